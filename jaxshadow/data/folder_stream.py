"""A folder dataset (istd, istd_plus, srd, paired, detection) checked once and decoded per read.

The streaming twin of `folder_source.load_folder_source`, for sets larger than memory (what
`data prepare` and `data.max_in_memory_gb` read from): opening it runs `check.check_source`
(every file decoded once, nothing kept), so a bad file stops the run before anything is
written, with the same one-line message (or, with `skip_bad_examples`, is left out). Examples
then decode one at a time. Rows, their order and their `index` are those of the in-memory
source: example `i` of a split is the i-th good example of its listing.
"""

import numpy as np

from jaxshadow.data.check import check_source
from jaxshadow.data.folder_source import check_one_size, load_arrays, stop_on_problems
from jaxshadow.data.images import image_size
from jaxshadow.data.layouts import DETECTION_SOURCES, split_listing
from jaxshadow.errors import UserError

CHANNELS = {"mask": 1}  # decoded channels of a file role; every other role is RGB (3)


def estimate_decoded_bytes(name, path, *, load_size=None, splits=("train", "test"),
                           options=None, listed=None):
    """Bytes the splits take decoded as uint8 rows, from the files' headers only.

    `listed`: the splits' listings if already made, {split: (examples, problems)}."""
    total = 0
    for split in splits:
        examples, _ = split_listing(name, path, split, options, listed)
        for example in examples:
            main = example.files.get("shadow", example.files.get("image"))
            try:
                height, width = load_size or image_size(main)
            except UserError:
                continue  # a bad file: reported when the set is opened
            total += height * width * sum(CHANNELS.get(role, 3) for role in example.files)
    return total


class FolderStream:
    """Examples of a folder dataset, decoded when read (see the module docstring)."""

    def __init__(self, name, path, *, load_size=None, skip_bad_examples=False,
                 splits=("train", "test"), options=None, listed=None):
        """`listed`: the splits' listings if already made, {split: (examples, problems)}."""
        self.name = name
        self.task = "detection" if name in DETECTION_SOURCES else "removal"
        self.num_classes = None
        self.load_size = tuple(load_size) if load_size else None
        report = check_source(name, path, splits=splits, listed=listed, **(options or {}))
        stop_on_problems(report.problems, name, path, skip_bad_examples)
        bad = {p.path for p in report.problems}
        self._examples, self._specs = {}, {}
        for split in splits:
            examples, _ = split_listing(name, path, split, options, listed)
            good = [e for e in examples if not bad.intersection(map(str, e.files.values()))]
            if not good:
                raise UserError(f"{name} at {path}: no usable examples in split '{split}'")
            if not self.load_size:
                check_one_size(name, split, report.splits[split].sizes)
            self._examples[split] = good
            keys = set.intersection(*(set(e.files) for e in good))
            first = self._decode(split, 0)
            self._specs[split] = {k: (first[k].shape, first[k].dtype) for k in sorted(keys)}
            self._specs[split]["index"] = ((), np.dtype(np.int32))

    def _decode(self, split, index):
        arrays, error = load_arrays(self._examples[split][index], self.name, self.load_size)
        if error is not None:
            raise error
        return arrays

    def num_examples(self, split):
        return len(self._examples[split])

    def element_spec(self, split):
        """{key: (shape of one example, dtype)}."""
        return dict(self._specs[split])

    def read(self, split, index):
        """Example `index` of `split`, decoded now: a dict of uint8 arrays and its `index`."""
        arrays = self._decode(split, int(index))
        row = {k: arrays[k] for k in self._specs[split] if k != "index"}
        row["index"] = np.int32(index)
        return row
