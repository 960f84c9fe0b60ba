"""A NaN in training: stop at the step with the last good checkpoint kept, or skip the update."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import digits_config
from jaxshadow.errors import UserError
from jaxshadow.tasks.classification import ClassificationTask
from jaxshadow.train import loop, prefetch
from jaxshadow.train.checkpoints import abstract_like, restore_latest
from jaxshadow.train.setup import build_run


@pytest.fixture
def poison_steps(monkeypatch):
    """The set of (1-based) steps whose input images become NaN, through a 'poison' column."""
    steps = set()
    calls = {"n": 0}
    real_global_batch, real_prepare = prefetch.global_batch, ClassificationTask.prepare

    def global_batch(batch, mesh):
        calls["n"] += 1
        nan = np.float32("nan") if calls["n"] in steps else np.float32(0)
        return real_global_batch({**batch, "poison": np.full(len(batch["label"]), nan)}, mesh)

    def prepare(self, batch, key, train):
        out = real_prepare(self, batch, key, train)
        if "poison" in batch:
            out["input"] = out["input"] + batch["poison"][:, None, None, None]
        return out

    monkeypatch.setattr(prefetch, "global_batch", global_batch)
    monkeypatch.setattr(ClassificationTask, "prepare", prepare)
    return steps


def _config(**overrides):
    base = {"model.name": "cnn_tiny", "steps": 20, "batch_size": 16, "log_every": 5,
            "eval_every": 1000, "checkpoint_every": 5}
    return digits_config(**{**base, **overrides})


def _records(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_nonfinite_loss_stops_naming_the_step_and_the_kept_checkpoint(tmp_path, poison_steps):
    poison_steps.add(7)
    workdir = str(tmp_path / "run")
    with pytest.raises(UserError) as error:
        loop.train(_config(), workdir)
    message = str(error.value)
    assert "\n" not in message
    assert "non-finite loss at step 7" in message
    assert f"the last good checkpoint, {os.path.abspath(workdir)}/checkpoints/5, is kept" \
        in message
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["5"]
    assert [r["step"] for r in _records(workdir)] == [5]

    config = _config()
    run = build_run(config)
    target = abstract_like(run.abstract_state, run.state_sharding)
    state, _, step = restore_latest(workdir, config.checkpoint, lambda meta: target)
    assert step == 5 and all(bool(jnp.all(jnp.isfinite(x)))
                             for x in jax.tree.leaves(state.params))


def test_skip_nonfinite_skips_and_counts_the_bad_updates(tmp_path, poison_steps):
    poison_steps.update({3, 7})
    workdir = str(tmp_path / "run")
    metrics = loop.train(_config(**{"optimizer.skip_nonfinite": True, "steps": 10}), workdir)
    train_records = [r for r in _records(workdir) if "loss" in r]
    assert [(r["step"], r["skipped_updates"]) for r in train_records] == [(5, 1), (10, 2)]
    assert all(r["loss"] is not None and math.isfinite(r["loss"]) for r in train_records)
    assert math.isfinite(metrics["eval_loss"]) and metrics["eval_accuracy"] > 0.2
