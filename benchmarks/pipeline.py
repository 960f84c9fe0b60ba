"""The input pipeline alone: `jaxshadow.data.pipeline.train_batches` with the tf.data and NumPy
readers, over the synthetic source (photo tiles in memory) and a folder dataset (an ISTD-layout
folder of random PNGs written to a temporary directory, decoded when the source is made).
images/s counts examples of the batches drawn, after one warm-up batch.
"""

import os
import tempfile
import time

import numpy as np
from PIL import Image

from jaxshadow.data.pipeline import train_batches
from jaxshadow.data.tf_setup import tensorflow_available


def write_istd_folder(root, count, size, seed=0):
    """ISTD layout: {train,test}/{split}_A (shadow), _B (mask), _C (shadow-free) PNGs."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", count), ("test", 2)):
        for suffix, channels in (("A", 3), ("B", 1), ("C", 3)):
            folder = os.path.join(root, split, f"{split}_{suffix}")
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                shape = (size, size) if channels == 1 else (size, size, 3)
                pixels = rng.integers(1, 256, shape, dtype=np.uint8)
                if channels == 1:
                    pixels = np.where(pixels > 128, 255, 0).astype(np.uint8)
                Image.fromarray(pixels).save(os.path.join(folder, f"{i:05d}.png"))


def time_batches(source, *, reader, batch_size, steps):
    """(images/s, seconds) reading `steps` batches after one warm-up batch."""
    batches = iter(train_batches(source, "train", seed=0, batch_size=batch_size, start_step=0,
                                 num_steps=steps + 1, reader=reader))
    next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    seconds = time.perf_counter() - start
    return steps * batch_size / seconds, seconds


def bench(quick):
    """Records for each (source, reader)."""
    from jaxshadow.data.folder_source import load_folder_source
    from jaxshadow.data.synthetic_source import load_synthetic

    readers = ["numpy"] + (["tf"] if tensorflow_available() else [])
    batch_size, steps = (16, 5) if quick else (32, 30)
    records = []
    sources = [("synthetic 96x96", lambda: load_synthetic(tile=96), None)]
    with tempfile.TemporaryDirectory() as root:
        count, size = (32, 64) if quick else (128, 256)
        write_istd_folder(root, count, size)
        sources.append((f"istd folder {count}x PNG {size}x{size}",
                        lambda: load_folder_source("istd", root), count))
        for name, make, files in sources:
            start = time.perf_counter()
            source = make()
            load_s = time.perf_counter() - start
            for reader in readers:
                ips, seconds = time_batches(source, reader=reader, batch_size=batch_size,
                                            steps=steps)
                records.append({"kind": "input", "name": name, "reader": reader,
                                "batch_size": batch_size, "images_per_sec": ips,
                                "median_s": seconds / steps, "load_s": load_s,
                                "decoded_images_per_sec": files / load_s if files else None})
    return records
