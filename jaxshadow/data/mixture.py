"""Several removal sources as one, by weight: pretrain on rendered shadows, fine-tune on pairs.

    data.source = "mixture"
    data.mixture = (("photos:/usr/share/backgrounds", 0.7), ("istd_plus:/data/ISTD", 0.3))

Every part is a removal source (`photos`, `synthetic`, `istd`, `istd_plus`, `srd`, `paired`).
Examples become `mix_size` × `mix_size` squares (shorter side resized to `mix_size`, bilinear,
masks nearest, then the centre square), with rows `shadow_free`, `shadow`, `mask` (H, W, 1),
`rendered` (1: the task renders the shadow, as for `photos`; 0: a real pair) and `index`.

Weights are exact per epoch and the order stays a pure function of (seed, step): the training
split is a list of V virtual slots, part k owning a block of round(w_k V) of them (slot i of
the block is the part's example i mod N_k), with V the smallest length at which every part
fills its block at least once (max_k N_k / w_k, weights normalised); the pipeline permutes the
slots per epoch as it does any split. The test split is every part's test split in turn.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from jaxshadow.data.arrays import read_tf
from jaxshadow.errors import UserError

RENDERED, PAIRED = 1, 0


def _square(array, size, nearest):
    """Shorter side -> `size` (bilinear, or nearest for masks), then the centre square."""
    h, w = array.shape[:2]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        new = (max(size, round(w * scale)), max(size, round(h * scale)))
        squeeze = array.ndim == 3 and array.shape[2] == 1
        image = Image.fromarray(array[..., 0] if squeeze else array)
        array = np.asarray(image.resize(new, Image.NEAREST if nearest else Image.BILINEAR))
        if squeeze:
            array = array[..., None]
        h, w = array.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return array[top:top + size, left:left + size]


class MixtureSource:
    """The parts' removal examples in one index space; see the module docstring."""

    task = "removal"
    renders_shadows = True
    num_classes = None

    def __init__(self, parts, weights, size):
        if not parts:
            raise UserError("data.mixture is empty; give ((SOURCE, WEIGHT), ...)")
        if any(not isinstance(w, (int, float)) or w <= 0 for w in weights):
            raise UserError(f"data.mixture weights must be > 0, got {tuple(weights)}")
        for spec, part in parts:
            if part.task != "removal":
                raise UserError(f"data.mixture: '{spec}' is a {part.task} source, not removal")
        self.name = "mixture"
        self.size = int(size)
        self._parts = [part for _, part in parts]
        total = float(sum(weights))
        shares = [w / total for w in weights]
        sizes = [part.num_examples("train") for part in self._parts]
        virtual = max(math.ceil(n / s) for n, s in zip(sizes, shares))
        blocks = [max(1, round(s * virtual)) for s in shares]
        self._train_starts = np.cumsum([0] + blocks)
        self._test_starts = np.cumsum([0] + [p.num_examples("test") for p in self._parts])

    def num_examples(self, split):
        starts = self._train_starts if split == "train" else self._test_starts
        return int(starts[-1])

    def element_spec(self, split):
        s = self.size
        return {"shadow_free": ((s, s, 3), np.dtype(np.uint8)),
                "shadow": ((s, s, 3), np.dtype(np.uint8)),
                "mask": ((s, s, 1), np.dtype(np.uint8)),
                "rendered": ((), np.dtype(np.uint8)),
                "index": ((), np.dtype(np.int32))}

    def part_of(self, split, index):
        """(part number, the part's example index) of `index`."""
        starts = self._train_starts if split == "train" else self._test_starts
        k = int(np.searchsorted(starts, index, side="right") - 1)
        offset = int(index - starts[k])
        return k, offset % self._parts[k].num_examples(split)

    def read(self, split, index):
        k, i = self.part_of(split, index)
        part = self._parts[k]
        example = part.read(split, i)
        free = _square(example["shadow_free"], self.size, nearest=False)
        if getattr(part, "renders_shadows", False):
            shadow, mask, rendered = free, np.zeros((*free.shape[:2], 1), np.uint8), RENDERED
        else:
            shadow = _square(example["shadow"], self.size, nearest=False)
            mask = _square(example["mask"], self.size, nearest=True)
            rendered = PAIRED
        return {"shadow_free": free, "shadow": shadow, "mask": mask,
                "rendered": np.uint8(rendered), "index": np.int32(index)}

    def read_tf(self, split, index):
        return read_tf(self, split, index)


def load_mixture(data_config, make_source):
    """The MixtureSource of `data_config.mixture`; `make_source` builds each part."""
    entries = tuple(data_config.mixture)
    parts, weights = [], []
    for entry in entries:
        if not isinstance(entry, (tuple, list)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise UserError(f"data.mixture entries are (SOURCE, WEIGHT) pairs, got {entry!r}")
        spec, weight = entry
        if spec.partition(":")[0] == "mixture":
            raise UserError("data.mixture cannot contain another mixture")
        part_config = data_config.copy_and_resolve_references()
        part_config.source = spec
        parts.append((spec, make_source(part_config)))
        weights.append(weight)
    return MixtureSource(parts, weights, data_config.mix_size)
