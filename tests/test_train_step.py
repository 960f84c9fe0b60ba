"""The training core: data-parallel equality, one compilation, accumulation, bf16, EMA."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import digits_config
from jaxshadow.data.pipeline import train_batches
from jaxshadow.train import steps as steps_lib
from jaxshadow.train.mesh import global_batch
from jaxshadow.train.setup import build_run


def _run_steps(config, num_steps, batches=None):
    run = build_run(config)
    state = run.initial_state()
    step_fn = steps_lib.make_train_step(run.model, run.task, run.tx, run.mesh,
                                        run.state_sharding,
                                        ema_decay=config.optimizer.ema_decay)
    if batches is None:
        batches = train_batches(run.source, "train", seed=config.seed,
                                batch_size=config.batch_size, start_step=0,
                                num_steps=num_steps, reader="numpy")
    losses = []
    for _, batch in zip(range(num_steps), batches):
        state, metrics = step_fn(state, global_batch(batch, run.mesh))
        losses.append(float(metrics["loss"]))
    return run, state, losses


def _assert_trees_close(a, b, tol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=tol, rtol=tol)


def test_eight_devices_equal_one_device():
    """SGD, so the comparison sees the gradients themselves (Adam's first step is ~lr·sign(g),
    which turns float32 summation-order noise in near-zero gradients into visible differences)."""
    assert jax.device_count() == 8
    sgd = {"optimizer.name": "sgd", "optimizer.learning_rate": 0.1}
    run8, state8, losses8 = _run_steps(digits_config(num_devices=8, **sgd), 2)
    run1, state1, losses1 = _run_steps(digits_config(num_devices=1, **sgd), 2)
    assert run8.mesh.devices.size == 8 and run1.mesh.devices.size == 1
    leaf = jax.tree.leaves(state8.params)[0]
    assert len(leaf.sharding.device_set) == 8
    _assert_trees_close(state8.params, state1.params, 1e-5)
    np.testing.assert_allclose(losses8, losses1, rtol=1e-6)


def test_train_step_compiles_once_over_ten_steps():
    before = steps_lib.trace_counts["train_step"]
    _, state, losses = _run_steps(digits_config(), 10)
    assert steps_lib.trace_counts["train_step"] - before == 1
    assert int(state.step) == 10
    assert losses[-1] < losses[0]


def test_batch_is_sharded_over_data_axis():
    run = build_run(digits_config())
    batch = next(iter(train_batches(run.source, "train", seed=0, batch_size=32, start_step=0,
                                    num_steps=1, reader="numpy")))
    arrays = global_batch(batch, run.mesh)
    shards = arrays["image"].addressable_shards
    assert len(shards) == 8 and shards[0].data.shape == (4, 28, 28, 1)


def test_gradient_accumulation_equals_the_full_batch():
    """Two micro-batches of 16 with MultiSteps(k=2) = one step on the 32 together (SGD)."""
    full = digits_config(batch_size=32, **{"optimizer.name": "sgd", "optimizer.momentum": 0.0,
                                           "optimizer.learning_rate": 0.1})
    accum = digits_config(batch_size=16, **{"optimizer.name": "sgd", "optimizer.momentum": 0.0,
                                            "optimizer.learning_rate": 0.1,
                                            "optimizer.accumulate_steps": 2})
    run = build_run(full)
    big = next(iter(train_batches(run.source, "train", seed=0, batch_size=32, start_step=0,
                                  num_steps=1, reader="numpy")))
    halves = [{k: v[:16] for k, v in big.items()}, {k: v[16:] for k, v in big.items()}]
    _, state_full, _ = _run_steps(full, 1, [big])
    _, state_accum, _ = _run_steps(accum, 2, halves)
    _assert_trees_close(state_full.params, state_accum.params, 1e-5)
    _, state_one, _ = _run_steps(accum, 1, halves[:1])  # after one micro-step: no update yet
    _, state_init, _ = _run_steps(accum, 0, [])
    _assert_trees_close(state_one.params, state_init.params, 0)


def test_bfloat16_step_keeps_float32_state():
    _, state, losses = _run_steps(digits_config(dtype="bfloat16"), 3)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.params))
    assert all(np.isfinite(losses))


def test_ema_tracks_params():
    _, state, _ = _run_steps(digits_config(**{"optimizer.ema_decay": 0.5}), 3)
    assert state.ema_params is not None
    diffs = [float(jnp.max(jnp.abs(e - p))) for e, p in
             zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(state.params))]
    assert max(diffs) > 0  # lags behind the parameters


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_other_optimizers_and_schedules_reduce_loss(name):
    config = digits_config(**{"optimizer.name": name, "optimizer.learning_rate": 0.01,
                              "optimizer.schedule": "warmup_cosine",
                              "optimizer.warmup_steps": 2, "optimizer.grad_clip_norm": 1.0})
    _, _, losses = _run_steps(config, 10)
    assert losses[-1] < losses[0]
