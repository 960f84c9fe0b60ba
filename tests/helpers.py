"""Shared test fixtures: small configs and runs on the digits data, and reading their logs."""

import json
import os

import numpy as np
from PIL import Image

from jaxshadow import config as config_lib


def metrics_records(workdir):
    """The JSON records of WORKDIR/metrics.jsonl, in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def digits_config(**overrides):
    """The digits recipe shrunk for tests; `overrides` are dotted keys -> values."""
    c = config_lib.defaults()
    c.model.name = "cnn_small"
    c.data.source = "digits"
    c.data.reader = "numpy"
    c.steps = 10
    c.batch_size = 32
    c.log_every = 5
    c.eval_every = 10
    c.checkpoint_every = 10
    c.optimizer.name = "adam"
    c.optimizer.learning_rate = 1e-3
    for key, value in overrides.items():
        node = c
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return config_lib.validate(c)


def write_paired(root, n=6, size=(24, 32)):
    """A `paired:` folder of n random shadow / shadow-free / mask PNG triplets of (H, W) `size`:
    the left half of every image is in shadow (half as bright)."""
    rng = np.random.default_rng(0)
    for sub in ("shadow", "shadow_free", "mask"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        free = rng.integers(60, 256, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        mask[:, : size[1] // 2] = 255
        shadow = np.where(mask[..., None] > 0, free // 2, free).astype(np.uint8)
        Image.fromarray(shadow).save(root / "shadow" / f"im{i}.png")
        Image.fromarray(free).save(root / "shadow_free" / f"im{i}.png")
        Image.fromarray(mask).save(root / "mask" / f"im{i}.png")
    return root


def write_istd(root, ids=("1", "2", "3", "4"), size=(40, 48)):
    """An ISTD-layout tree: {train,test}/{train,test}_{A,B,C}/<id>.png, shadows on the left."""
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for i in ids:
            free = rng.integers(80, 256, (*size, 3), dtype=np.uint8)
            mask = np.zeros(size, np.uint8)
            mask[:, : size[1] // 2] = 255
            shadow = np.where(mask[..., None] > 0, free // 3, free).astype(np.uint8)
            for letter, image in zip("ABC", (shadow, mask, free)):
                path = root / split / f"{split}_{letter}" / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(path)


def write_photos(root, n=5, seed=1):
    """`n` smooth random 100×80 photos (upsampled 8×10 noise) in the new folder `root`."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
        Image.fromarray(small).resize((100, 80), Image.BILINEAR).save(root / f"p{i}.jpg")
    return root
