"""Timing: compile separately, warm up, block until ready, median of repeats.

`time_jax(fn, *args)` -> Timing for a JAX function (jit-compiled here; compile time measured on
`lower(...).compile()`); `time_call(call)` -> Timing for any zero-argument callable that returns
only when its work is done (the peers synchronise themselves).
"""

import dataclasses
import statistics
import time

import jax


@dataclasses.dataclass
class Timing:
    median_s: float
    compile_s: float
    repeats: int
    times_s: list


def time_call(call, *, repeats=5, warmup=1, min_time_s=0.0):
    """Median wall time of `call()` after `warmup` untimed calls; more repeats until min_time_s."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    for _ in range(warmup - 1):
        call()
    times = []
    while len(times) < repeats or sum(times) < min_time_s:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if len(times) >= 10 * repeats:
            break
    return Timing(statistics.median(times), first, len(times), times)


def time_jax(fn, *args, repeats=5, warmup=1, min_time_s=0.0):
    """Times `jax.jit(fn)(*args)`; compile_s is the lowering + compilation alone. (A training
    step, whose state is donated and fed back: `benchmarks.train.JaxStep`.)"""
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - start

    def call():
        jax.block_until_ready(compiled(*args))
    t = time_call(call, repeats=repeats, warmup=warmup, min_time_s=min_time_s)
    return Timing(t.median_s, compile_s, t.repeats, t.times_s)
