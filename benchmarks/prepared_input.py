"""Prepared sets against the in-memory reader: images/s and the reading process's peak RSS.

A generated set of N images (size × size × 3, each drawn from its index, so no process ever
holds the set) is prepared once per N; each reading runs in its own process
(`python -m benchmarks.prepared_input DIR ...`), which reads `steps` batches after one
warm-up batch and reports images/s and its peak resident memory (`ru_maxrss`). The in-memory
row loads the same images into an `ArraySource` first, as the folder sources do, so its RSS
grows with N and the prepared rows' should not.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


class GeneratedImages:
    """N shadow-free images (uint8 (size, size, 3)) drawn from (seed, index): a removal source
    with rendered shadows that holds nothing in memory."""

    task, renders_shadows, num_classes = "removal", True, None

    def __init__(self, num_examples, size, seed=0):
        self.name = f"generated {num_examples}x{size}"
        self.counts = {"train": num_examples, "test": max(1, num_examples // 50)}
        self.size, self.seed = size, seed

    def num_examples(self, split):
        return self.counts[split]

    def element_spec(self, split):
        return {"shadow_free": ((self.size, self.size, 3), np.dtype(np.uint8)),
                "index": ((), np.dtype(np.int32))}

    def read(self, split, index):
        rng = np.random.default_rng([self.seed, split == "test", int(index)])
        image = rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)
        return {"shadow_free": image, "index": np.int32(index)}  # noise: nothing compresses


def prepare_generated(out, num_examples, size):
    from jaxshadow.data.prepare import prepare

    return prepare(GeneratedImages(num_examples, size), out,
                   source_spec=f"generated:{num_examples}x{size}", progress=lambda _: None)


def _rss_mb():
    """This process's resident memory now (VmRSS), in MiB."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def read(directory, *, reader, workers, steps, batch_size, in_memory=False):
    """In this process, reading `steps` batches of `directory`: {'images_per_sec', 'rss_mb'
    (resident memory at the end, the pipeline still open), 'max_rss_mb' (peak, imports
    included), 'start_rss_mb' (before the set was opened)}."""
    start_rss = _rss_mb()
    from jaxshadow.data.arrays import ArraySource
    from jaxshadow.data.pipeline import train_batches
    from jaxshadow.data.prepared_source import PreparedSource

    source = PreparedSource(directory)
    if in_memory:
        splits = {s: {k: np.stack([source.read(s, i)[k] for i in range(source.num_examples(s))])
                      for k in source.element_spec(s)} for s in ("train", "test")}
        source = ArraySource(source.name, splits, task="removal", renders_shadows=True)
    batches = iter(train_batches(source, "train", seed=0, batch_size=batch_size, start_step=0,
                                 num_steps=steps + 1, reader=reader, workers=workers))
    next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    seconds = time.perf_counter() - start
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"images_per_sec": steps * batch_size / seconds, "rss_mb": _rss_mb(),
            "max_rss_mb": max_rss_kb / 1024, "start_rss_mb": start_rss}


def read_in_child(directory, *, reader="grain", workers=0, steps=40, batch_size=16,
                  in_memory=False):
    """`read` in a fresh Python process (so peak RSS is this reading's alone)."""
    command = [sys.executable, "-m", "benchmarks.prepared_input", str(directory),
               "--reader", reader, "--workers", str(workers), "--steps", str(steps),
               "--batch-size", str(batch_size)] + (["--in-memory"] if in_memory else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(quick):
    """Records for N in two sizes: in-memory, prepared through NumPy, Grain with 0/1/2 workers."""
    sizes, side, steps = ((100,), 64, 10) if quick else ((200, 2000), 256, 40)
    rows = [("in-memory", "numpy", 0, True), ("prepared", "numpy", 0, False),
            ("prepared", "grain", 0, False), ("prepared", "grain", 1, False),
            ("prepared", "grain", 2, False)]
    records = []
    with tempfile.TemporaryDirectory() as root:
        for n in sizes:
            directory = f"{root}/set-{n}"
            prepare_generated(directory, n, side)
            decoded_mb = n * side * side * 3 / 2**20
            for kind, reader, workers, in_memory in rows:
                result = read_in_child(directory, reader=reader, workers=workers, steps=steps,
                                       in_memory=in_memory)
                records.append({"kind": "input", "name": f"{kind} {n}x{side}²",
                                "reader": reader, "workers": workers, "batch_size": 16,
                                "images_per_sec": result["images_per_sec"],
                                "rss_mb": result["rss_mb"],
                                "max_rss_mb": result["max_rss_mb"],
                                "decoded_set_mb": decoded_mb})
    return records


def _main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--reader", default="grain")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--in-memory", action="store_true")
    args = parser.parse_args()
    print(json.dumps(read(args.directory, reader=args.reader, workers=args.workers,
                          steps=args.steps, batch_size=args.batch_size,
                          in_memory=args.in_memory)))


if __name__ == "__main__":
    _main()
