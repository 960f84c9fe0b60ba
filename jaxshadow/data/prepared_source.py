"""`prepared:DIR`: a set written by `jaxshadow data prepare`, read from its ArrayRecord shards.

Nothing is loaded up front: opening the set reads `index.json`, checks every shard against it
(present, the recorded size, the recorded number of records and, unless `verify_checksums` is
off, its SHA-256), and each example is read from disk when a reader asks for it, so host memory
does not grow with the set. Example `i` of a split is record `i` of the split's shards taken in
order (`grain.sources.ArrayRecordDataSource` over the shard list), so the pipeline's
(seed, step) order holds unchanged.

The source pickles as its folder and index (the shard readers are reopened in the process that
unpickles it), which is what Grain's worker processes need.
"""

import concurrent.futures
import json
from pathlib import Path

from jaxshadow.data import prepared_format as fmt
from jaxshadow.data.arrays import read_tf
from jaxshadow.errors import UserError


def _num_records(path):
    from array_record.python.array_record_module import ArrayRecordReader

    reader = ArrayRecordReader(str(path))
    try:
        return reader.num_records()
    finally:
        reader.close()


def load_index(path):
    """The index of the prepared set at `path` (a dict), or UserError naming what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"prepared: folder not found: {path}")
    index_file = path / fmt.INDEX
    if not index_file.exists():
        if (path / fmt.PARTIAL).is_dir():
            raise UserError(f"{path} is an unfinished preparation (no {fmt.INDEX}); run the same "
                            f"`jaxshadow data prepare ... --out {path}` again to finish it")
        raise UserError(f"{path} is not a prepared set (no {fmt.INDEX}); write one with "
                        f"`jaxshadow data prepare SOURCE --out {path}`")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{index_file}: not readable as JSON ({e})") from None
    if not isinstance(index, dict) or index.get("format") != fmt.FORMAT:
        raise UserError(f"{index_file}: not a jaxshadow prepared-set index")
    if index.get("version") != fmt.VERSION:
        raise UserError(f"{index_file}: format version {index.get('version')}, this jaxshadow "
                        f"reads version {fmt.VERSION}; prepare the set again")
    return index


def check_shards(path, index, verify_checksums=True, workers=8):
    """Raises UserError naming the first shard that disagrees with `index`."""
    path = Path(path)
    checks = []
    for split, info in index["splits"].items():
        total = sum(entry["num_examples"] for entry in info["shards"])
        if total != info["num_examples"]:
            raise UserError(f"{path / fmt.INDEX}: split '{split}' lists {info['num_examples']} "
                            f"examples but its shards hold {total}")
        checks.extend(info["shards"])

    def check(entry):
        shard = path / entry["file"]
        if not shard.exists():
            return f"{shard}: shard missing (listed in {path / fmt.INDEX})"
        size = shard.stat().st_size
        if size != entry["bytes"]:
            return f"{shard}: {size} bytes, the index records {entry['bytes']}"
        if verify_checksums and fmt.file_sha256(shard) != entry["sha256"]:
            return f"{shard}: checksum mismatch (the file is damaged; prepare the set again)"
        try:
            records = _num_records(shard)
        except Exception as e:  # array_record raises plain RuntimeErrors for damaged files
            return f"{shard}: not a readable ArrayRecord file ({str(e).splitlines()[0]})"
        if records != entry["num_examples"]:
            return f"{shard}: {records} records, the index records {entry['num_examples']}"
        return None

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for problem in pool.map(check, checks):
            if problem:
                raise UserError(problem)


class PreparedSource:
    """Examples read on demand from a prepared set's shards (`jaxshadow.data.prepare`)."""

    def __init__(self, path, verify_checksums=True):
        index = load_index(path)
        check_shards(path, index, verify_checksums)
        self._open(Path(path), index)

    def _open(self, path, index):
        self.path, self.index = path, index
        self.name = f"prepared:{path}"
        self.task = index["task"]
        self.renders_shadows = index["renders_shadows"]
        self.num_classes = index["num_classes"]
        self._specs = {split: fmt.spec_from_json(info["spec"])
                       for split, info in index["splits"].items()}
        self._readers = {}

    def __getstate__(self):
        return {"path": self.path, "index": self.index}

    def __setstate__(self, state):
        self._open(state["path"], state["index"])

    def _split(self, split):
        if split not in self._specs:
            raise UserError(f"{self.name} has no split '{split}' (it has "
                            f"{', '.join(sorted(self._specs))})")
        return self.index["splits"][split]

    def _reader(self, split):
        reader = self._readers.get(split)
        if reader is None:
            import grain

            files = [str(self.path / entry["file"]) for entry in self._split(split)["shards"]]
            reader = self._readers[split] = grain.sources.ArrayRecordDataSource(files)
        return reader

    def num_examples(self, split):
        return self._split(split)["num_examples"]

    def element_spec(self, split):
        """{key: (shape of one example, dtype)}, as recorded in the index."""
        self._split(split)
        return dict(self._specs[split])

    def read(self, split, index):
        """Example `index` of `split`: a dict of NumPy arrays (read-only)."""
        return fmt.decode(self._reader(split)[int(index)], self._specs[split])

    def read_tf(self, split, index):
        return read_tf(self, split, index)
