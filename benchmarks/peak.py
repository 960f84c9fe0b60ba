"""The machine's matmul peak, measured: FLOP/s of a large square `jnp.dot` per dtype."""

import jax
import jax.numpy as jnp

from benchmarks.timing import time_jax


def matmul_peak(dtype, size=2048, repeats=5):
    """FLOP/s of a (size × size) @ (size × size) product in `dtype` (2·size³ FLOPs)."""
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (size, size), dtype)
    b = jax.random.normal(kb, (size, size), dtype)
    timing = time_jax(jnp.dot, a, b, repeats=repeats, warmup=1)
    return 2 * size ** 3 / timing.median_s
