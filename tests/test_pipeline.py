"""The input pipeline: batches are a pure function of (seed, step); readers agree."""

import numpy as np
import pytest

from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.pipeline import (eval_batches, num_eval_batches, step_indices,
                                     train_batches)
from jaxshadow.data.tf_setup import tensorflow_available


def _source(n=50):
    rng = np.random.default_rng(0)
    return ArraySource("fixture", {"train": {
        "image": rng.integers(0, 256, (n, 6, 5, 3), dtype=np.uint8),
        "label": np.arange(n, dtype=np.int32)}}, num_classes=n)


def _collect(reader, start, stop, **kw):
    batches = train_batches(_source(), "train", seed=3, batch_size=8, start_step=start,
                            num_steps=stop, reader=reader, **kw)
    return [b for b in batches]


def test_every_epoch_visits_each_example_once():
    n, b = 50, 10
    seen = np.concatenate([step_indices(7, s, b, n) for s in range(5)])
    assert sorted(seen) == list(range(n))
    second = np.concatenate([step_indices(7, s, b, n) for s in range(5, 10)])
    assert sorted(second) == list(range(n)) and not np.array_equal(seen, second)


def test_different_seeds_give_different_orders():
    assert not np.array_equal(step_indices(0, 0, 16, 50), step_indices(1, 0, 16, 50))


NEEDS_TF = pytest.mark.skipif(not tensorflow_available(),
                              reason="the tf.data reader needs TensorFlow (pip install -e '.[tf]')")


@pytest.mark.parametrize("reader", ["numpy", pytest.param("tf", marks=NEEDS_TF)])
def test_restart_at_step_k_reproduces_the_stream(reader):
    full = _collect(reader, 0, 12)
    resumed = _collect(reader, 7, 12)
    assert len(full) == 12 and len(resumed) == 5
    for a, b in zip(full[7:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


@NEEDS_TF
def test_tf_and_numpy_readers_give_identical_batches():
    for a, b in zip(_collect("tf", 0, 9), _collect("numpy", 0, 9)):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key], b[key])


def test_process_shares_partition_the_global_batch():
    whole = _collect("numpy", 0, 3)
    shares = [_collect("numpy", 0, 3, process_index=i, process_count=4) for i in range(4)]
    for step in range(3):
        joined = np.concatenate([shares[i][step]["label"] for i in range(4)])
        np.testing.assert_array_equal(joined, whole[step]["label"])
        assert len(shares[0][step]["label"]) == 2


def test_eval_batches_pad_and_mark_the_last_batch():
    source = _source(50)
    batches = list(eval_batches(source, "train", batch_size=16))
    assert len(batches) == num_eval_batches(source, "train", 16) == 4
    labels = np.concatenate([b["label"] for b in batches])
    valid = np.concatenate([b["valid"] for b in batches])
    assert valid.sum() == 50 and valid[50:].sum() == 0
    np.testing.assert_array_equal(labels[:50], np.arange(50))
    per_process = [list(eval_batches(source, "train", batch_size=16, process_index=i,
                                     process_count=2)) for i in range(2)]
    assert len(per_process[0]) == len(per_process[1]) == 4  # same number of steps everywhere
