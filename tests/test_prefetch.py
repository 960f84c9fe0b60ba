"""Device prefetch: the same global batches in the same order, `size` ahead, waits measured."""

import time

import jax
import numpy as np
import pytest

from jaxshadow.train.mesh import global_batch, make_mesh
from jaxshadow.train.prefetch import DevicePrefetch


def _local_batches(n, pulled):
    for i in range(n):
        pulled.append(i)
        yield {"image": np.full((8, 4, 4, 3), i, np.uint8), "index": np.arange(8) + 8 * i}


def test_prefetch_yields_the_global_batches_in_order_and_stays_size_ahead():
    mesh = make_mesh(8)
    pulled = []
    prefetch = DevicePrefetch(_local_batches(5, pulled), mesh, size=3)
    expected = [global_batch(b, mesh) for b in _local_batches(5, [])]
    got = []
    for step, batch in enumerate(prefetch):
        # batch `step` and the next two are placed before the step runs, never more
        assert len(pulled) == min(step + 3, 5)
        assert batch["image"].sharding == expected[step]["image"].sharding
        got.append(jax.device_get(batch))
    assert len(got) == 5
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a["image"], jax.device_get(b["image"]))
        np.testing.assert_array_equal(a["index"], jax.device_get(b["index"]))


def test_wait_seconds_counts_the_time_blocked_on_a_slow_input():
    def slow():
        for b in _local_batches(4, []):
            time.sleep(0.05)
            yield b

    prefetch = DevicePrefetch(slow(), make_mesh(8), size=2)
    next(prefetch)  # fills two: ~0.1 s
    assert prefetch.take_wait_seconds() >= 0.09
    assert prefetch.take_wait_seconds() == 0.0  # taken and reset
    next(prefetch)  # a generator runs only when asked: one more sleep to refill
    assert 0.04 <= prefetch.take_wait_seconds() < 0.5


def test_size_below_one_is_refused():
    with pytest.raises(ValueError, match="prefetch size must be >= 1"):
        DevicePrefetch(iter(()), make_mesh(8), size=0)
