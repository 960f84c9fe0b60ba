"""The three benchmarks as functions returning JSON-ready records (see benchmarks.report)."""

import itertools
import json
import platform
import statistics
import sys

import jax

from benchmarks import (conv, peer_keras, peer_process, peer_torch, pipeline, prepared_input,
                        train)
from benchmarks.peak import matmul_peak
from benchmarks.specs import model_conv_specs

DTYPES = ("float32", "bfloat16")
DIRECTIONS = ("fwd", "dgrad", "wgrad")
# (peer_process name, record field, module whose `available()` says it is installed, models it
# has): each timed in its own process, as its users run it (benchmarks/peer_process.py). The
# zoo's torch peers are the official PyTorch modules (benchmarks/official_models.py).
TORCH_MODELS = ("cnn_tiny", "cnn_small", "unet", "nafnet", "shadowformer")
TRAIN_PEERS = (("torch", "torch", peer_torch, TORCH_MODELS),
               ("torch-compile", "torch_compile", peer_torch, TORCH_MODELS),
               ("keras-fit", "keras", peer_keras, ("cnn_tiny", "cnn_small", "unet")))


def _device():
    d = jax.devices()[0]
    return jax.default_backend(), getattr(d, "device_kind", str(d))


def peers_status(use_peers):
    """{peer: version or why it is not run}."""
    if not use_peers:
        return {"torch": "not requested", "keras": "not requested"}
    return {"torch": peer_torch.version() if peer_torch.available() else "not installed",
            "keras": peer_keras.version() if peer_keras.available() else "not installed"}


def machine(peaks, use_peers):
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    backend, device = _device()
    return {"cpu": cpu, "cpu_count": __import__("os").cpu_count(), "backend": backend,
            "device": device, "device_count": jax.device_count(), "jax": jax.__version__,
            "python": sys.version.split()[0], "peers": peers_status(use_peers),
            "matmul_peak_gflop_per_s": {k: v / 1e9 for k, v in peaks.items()}}


def peaks(quick):
    size = 1024 if quick else 2048
    return {dt: matmul_peak(dt, size) for dt in DTYPES}


def run_conv(peak, *, quick, peers, specs=None, dtypes=DTYPES, log=print):
    backend, device = _device()
    repeats, warmup = (2, 1) if quick else (5, 2)
    if specs is None:
        specs = (model_conv_specs(32, 2, 8) if quick else model_conv_specs(256, 8, 64))
    records = []
    for spec in specs:
        for dtype in dtypes:
            for direction in DIRECTIONS:
                if spec.kind == "dense" and direction != "fwd" and quick:
                    continue
                peer_s = {}
                if peers and peer_torch.available():
                    peer_s["torch"] = peer_torch.time_conv_op(
                        spec, direction, dtype, repeats=repeats, warmup=warmup).median_s
                if peers and peer_keras.available():
                    peer_s["tf"] = peer_keras.time_conv_op(
                        spec, direction, dtype, repeats=repeats, warmup=warmup).median_s
                for impl in conv.impls(spec)[:1 if quick else None]:
                    t = conv.time_op(spec, impl, direction, dtype, repeats=repeats,
                                     warmup=warmup)
                    rate = spec.flops() / t.median_s
                    r = {"kind": "conv", "name": spec.name, "shape": spec.shape_text(),
                         "dtype": dtype, "direction": direction, "impl": impl,
                         "median_s": t.median_s, "compile_s": t.compile_s,
                         "flops": spec.flops(), "gflop_per_s": rate / 1e9,
                         "pct_of_peak": 100 * rate / peak[dtype], "backend": backend,
                         "device": device}
                    for name in ("torch", "tf"):
                        s = peer_s.get(name)
                        r[f"{name}_s"] = s
                        r[f"vs_{name}"] = s / t.median_s if s else None
                    records.append(r)
                    log(f"conv {spec.name} {dtype} {direction} {impl}: "
                        f"{r['gflop_per_s']:.1f} GFLOP/s ({r['pct_of_peak']:.0f}% of peak)")
    return records


def run_train(peak, *, quick, peers, models=None, dtypes=("float32",), rounds=1, log=print):
    """models: [(name, batch_size, image_size)] or [(name, batch_size, image_size, options)]
    (the model's own options, default the registry's); defaults per --quick. One record per
    model and compute dtype; MFU against the matmul peak of that dtype.

    rounds: JAX and each peer are timed one after the other `rounds` times (the JAX step
    compiled once). `median_s` is the median over rounds of JAX's per-round medians, and
    `vs_<peer>` the median of the per-round ratios, so that a ratio compares timings taken
    minutes apart at most, under the same load of a shared host; the per-round figures are
    kept (`round_s`, `<peer>_round_s`)."""
    backend, device = _device()
    repeats, warmup = (2, 1) if quick else (7, 2)
    if models is None:
        models = ([("cnn_small", 16, 28), ("unet", 2, 32)] if quick
                  else [("cnn_small", 64, 28), ("unet", 8, 128), ("nafnet", 2, 128),
                        ("shadowformer", 1, 160)])
    records = []
    for (name, batch_size, image_size, *options), dtype in itertools.product(models, dtypes):
        step = train.JaxStep(name, batch_size, image_size, dtype=dtype,
                             options=options[0] if options else None)
        options = json.loads(json.dumps(step.options))  # tuples as lists, as JSON has them
        runs = [(peer, field, module, supported) for peer, field, module, supported in TRAIN_PEERS
                if peers and module.available() and name in supported]
        jax_s, peer_s, record = [], {field: [] for _, field, _, _ in runs}, {}
        for _ in range(rounds):
            jax_s.append(step.time(repeats=repeats, warmup=warmup).median_s)
            for peer, field, _, _ in runs:
                if f"{field}_error" in record:
                    continue
                t = peer_process.run(peer, name, batch_size, image_size, train.channels(name),
                                     threads=peer_process.jax_threads(), repeats=repeats,
                                     warmup=warmup, dtype=dtype, options=options)
                if "error" in t:
                    record[f"{field}_error"] = t["error"]
                    log(f"train {name} {peer}: {t['error']}")
                    continue
                if t["params"] != step.params:
                    raise AssertionError(f"{peer} {name} has {t['params']} parameters, "
                                         f"JAX {step.params}")
                peer_s[field].append(t["median_s"])
                record.setdefault(f"{field}_compile_s", t["compile_s"])
                record[f"{field}_setup"] = t["setup"]
        median_s = statistics.median(jax_s)
        rate = step.model_flops / median_s
        record.update({"kind": "train", "model": name, "batch_size": batch_size,
                       "image_size": image_size, "options": options, "dtype": dtype,
                       "params": step.params, "images_per_sec": batch_size / median_s,
                       "median_s": median_s, "compile_s": step.compile_s,
                       "model_flops": step.model_flops,
                       "flops_source": "analytical, from the step's jaxpr (benchmarks.flops)",
                       "mfu_pct": 100 * rate / peak[dtype], "backend": backend,
                       "device": device, "rounds": rounds, "round_s": jax_s})
        for _, field, _, _ in TRAIN_PEERS:
            times = peer_s.get(field, [])
            record[f"{field}_s"] = statistics.median(times) if times else None
            record[f"vs_{field}"] = (statistics.median(p / j for p, j in zip(times, jax_s))
                                     if times else None)
            if times:
                record[f"{field}_round_s"] = times
        records.append(record)
        log(f"train {name} {dtype}: {record['images_per_sec']:.1f} images/s, "
            f"MFU {record['mfu_pct']:.1f}%")
    return records


def run_input(*, quick, log=print):
    records = pipeline.bench(quick) + prepared_input.bench(quick)
    for r in records:
        memory = f", {r['rss_mb']:.0f} MiB resident" if r.get("rss_mb") else ""
        log(f"input {r['name']} {r['reader']}: {r['images_per_sec']:.0f} images/s{memory}")
    return records
