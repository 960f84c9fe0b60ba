"""`jaxshadow data prepare SOURCE --out DIR`: every example of a source, decoded and checked once,
written to ArrayRecord shards with a JSON index (layout: `jaxshadow.data.prepared_format`).

The source is read one example at a time (folder sources through `FolderStream`, which decodes
a file only when asked), so preparing takes memory for one shard's worth of work, not for the
set. Each shard is written to a temporary file, renamed when complete, and recorded in
`DIR/.partial/` with its checksum; a run that is interrupted (kill -9 included) and started
again keeps the shards it finished and writes the rest. `index.json` is written last, in one
atomic rename, so a reader never sees a half-prepared set; a finished DIR is never written to
again.
"""

import concurrent.futures
import json
import math
import os
from pathlib import Path

from array_record.python.array_record_module import ArrayRecordWriter

from jaxshadow.data import prepared_format as fmt
from jaxshadow.errors import UserError
from jaxshadow.files import atomic_write

TARGET_SHARD_BYTES = 256 * 2**20  # default shard count: about this many bytes per shard


def _example_bytes(spec):
    return sum(math.prod(shape) * dtype.itemsize for shape, dtype in spec.values())


def _check_out_dir(out, source_spec):
    """Raises UserError when `out` is a finished set or a folder that is not one in progress."""
    out = Path(out)
    index = out / fmt.INDEX
    if index.exists():
        raise UserError(f"{index}: {out} is already a prepared set; nothing was written "
                        f"(choose another --out, or delete it to prepare again)")
    if out.exists() and any(out.iterdir()) and not (out / fmt.PARTIAL).is_dir():
        raise UserError(f"{out} is not empty and is not a prepared set in progress; "
                        f"choose an empty or new folder")
    marker = out / fmt.PARTIAL / "source.json"
    if marker.exists():
        started = json.loads(marker.read_text()).get("source")
        if started != source_spec:
            raise UserError(f"{marker}: {out} holds an unfinished preparation of '{started}', "
                            f"not '{source_spec}'; choose another --out")


def _write_shard(source, split, spec, first, stop, path, workers):
    """Writes examples [first, stop) of `split` to `path` (through a temporary file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    writer = ArrayRecordWriter(str(tmp), fmt.WRITER_OPTIONS)
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for example in pool.map(lambda i: source.read(split, i), range(first, stop)):
                writer.write(fmt.encode(example, spec))
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(tmp, path)
    return fmt.file_sha256(path)


def prepare(source, out, *, source_spec, shards=None, splits=("train", "test"), workers=8,
            data_options=None, progress=print):
    """Writes `splits` of `source` to `out`; returns the index (a dict, as in index.json).

    shards: shards per split (default: about `TARGET_SHARD_BYTES` each). `source_spec` is
    recorded (and checked when an unfinished `out` is resumed); `data_options` (the data config
    the source was made with) is recorded in the index for reference.
    """
    out = Path(out)
    _check_out_dir(out, source_spec)
    partial = out / fmt.PARTIAL
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write(partial / "source.json", json.dumps({"source": source_spec}))
    index = {"format": fmt.FORMAT, "version": fmt.VERSION, "source": source_spec,
             "name": source.name, "task": source.task,
             "renders_shadows": bool(getattr(source, "renders_shadows", False)),
             "num_classes": source.num_classes, "data_options": data_options or {},
             "splits": {}}
    for split in splits:
        n = source.num_examples(split)
        if n == 0:
            raise UserError(f"source '{source_spec}' has no examples in split '{split}'")
        spec = source.element_spec(split)
        count = shards or max(1, round(n * _example_bytes(spec) / TARGET_SHARD_BYTES))
        count = min(count, n)
        entries = []
        for shard, (first, stop) in enumerate(fmt.shard_ranges(n, count)):
            name = fmt.shard_name(split, shard, count)
            done = partial / f"{name}.json"
            entry = json.loads(done.read_text()) if done.exists() else None
            if entry is None or not (out / name).exists() or \
                    fmt.file_sha256(out / name) != entry["sha256"]:
                sha = _write_shard(source, split, spec, first, stop, out / name, workers)
                entry = {"file": name, "num_examples": stop - first, "sha256": sha,
                         "bytes": (out / name).stat().st_size}
                atomic_write(done, json.dumps(entry))
                progress(f"{split}: shard {shard + 1}/{count} ({stop - first} examples) written")
            entries.append(entry)
        index["splits"][split] = {"num_examples": n, "spec": fmt.spec_to_json(spec),
                                  "shards": entries}
    atomic_write(out / fmt.INDEX, json.dumps(index, indent=1))
    for f in partial.iterdir():
        f.unlink()
    partial.rmdir()
    return index
