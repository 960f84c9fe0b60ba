"""Checkpoints: damaged ones, another mesh, config changes, fine-tuning, what is kept."""

import io
import json
import logging
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import digits_config
from jaxshadow import cli
from jaxshadow.errors import UserError
from jaxshadow.train.checkpoints import Checkpointer, state_fingerprint
from jaxshadow.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_cnn.py")


def tiny(**overrides):
    base = {"model.name": "cnn_tiny", "steps": 15, "batch_size": 16, "log_every": 1,
            "eval_every": 1000, "checkpoint_every": 5}
    return digits_config(**{**base, **overrides})


def _losses(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    steps = [r["step"] for r in records if "loss" in r]
    assert len(steps) == len(set(steps))
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def _steps(workdir, name="checkpoints"):
    return sorted(int(n) for n in os.listdir(os.path.join(workdir, name)) if n.isdigit())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(workdir, {step: loss}) of an uninterrupted 15-step run on 8 devices."""
    workdir = str(tmp_path_factory.mktemp("reference") / "run")
    train(tiny(), workdir)
    return workdir, _losses(workdir)


def _largest_file(directory):
    files = [p for p in Path(directory).rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size)


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _scribble(path):  # same size, bytes changed in the middle: Orbax reads it without error
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(b"\x7f" * 64)


@pytest.mark.parametrize("damage", [_truncate, _scribble])
def test_damaged_newest_checkpoint_is_set_aside_and_the_previous_one_resumed(tmp_path,
                                                                            reference, damage):
    workdir = str(tmp_path / "run")
    train(tiny(steps=10), workdir)
    assert _steps(workdir) == [5, 10]
    damage(_largest_file(os.path.join(workdir, "checkpoints", "10", "state")))

    stream = io.StringIO()
    train(tiny(), workdir, stream=stream)
    text = stream.getvalue()
    warning = next(l for l in text.splitlines() if l.startswith("warning:"))
    assert f"{workdir}/checkpoints/10" in warning and "damaged_checkpoints/10" in warning
    assert f"resumed from {workdir}/checkpoints/5" in text
    assert _steps(workdir, "damaged_checkpoints") == [10]  # kept, not deleted
    assert _steps(workdir)[-1] == 15  # step 10 was saved again, then 15
    assert _losses(workdir) == reference[1]  # steps 6..15 recomputed exactly


def test_a_run_saved_on_8_devices_continues_on_1_then_4(tmp_path, reference):
    workdir = str(tmp_path / "run")
    train(tiny(steps=5), workdir)
    train(tiny(steps=10, num_devices=1), workdir)
    train(tiny(steps=15, num_devices=4), workdir)
    losses, expected = _losses(workdir), reference[1]
    assert losses.keys() == expected.keys()
    np.testing.assert_allclose([losses[s] for s in expected], list(expected.values()),
                               rtol=1e-5)
    assert [losses[s] for s in range(1, 6)] == [expected[s] for s in range(1, 6)]


def test_fingerprint_is_the_same_on_any_mesh():
    tree = {"a": jnp.arange(12.0).reshape(3, 4), "b": jnp.array([1, 2], jnp.int32)}
    on_8 = jax.device_put(tree, jax.sharding.NamedSharding(
        jax.sharding.Mesh(np.array(jax.devices()), ("data",)), jax.sharding.PartitionSpec()))
    assert state_fingerprint(tree) == state_fingerprint(on_8)
    changed = {**tree, "a": tree["a"].at[1, 2].set(np.nextafter(np.float32(6), 7))}
    assert state_fingerprint(changed) != state_fingerprint(tree)


def test_config_differences_in_model_or_shapes_are_a_clear_error(tmp_path, capsys):
    workdir = tmp_path / "run"
    base = ["train", "--config", DIGITS, "--workdir", str(workdir), "--config.steps=5",
            "--config.batch_size=16", "--config.eval_every=1000", "--config.log_every=5",
            "--config.checkpoint_every=5", "--config.data.reader=numpy",
            "--config.model.name=cnn_tiny"]
    assert cli.main(base) == 0
    saved_config = (workdir / "config.json").read_text()
    for change, message in [
            (["--config.model.name=cnn_small"],
             "model.name: 'cnn_tiny' in the checkpoint, 'cnn_small' now"),
            (["--config.model.num_classes=12"],
             "model.num_classes: 10 in the checkpoint, 12 now"),
            (["--config.optimizer.name=sgd"],
             "optimizer.name: 'adam' in the checkpoint, 'sgd' now"),
            (["--config.optimizer.ema_decay=0.9"],
             "optimizer.ema_decay: 0.0 in the checkpoint, 0.9 now")]:
        capsys.readouterr()
        assert cli.main(base + change) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert f"{workdir}/checkpoints/5" in err[0]
        assert (workdir / "config.json").read_text() == saved_config  # not overwritten
    # the parameters would fit: fine-tuning in another workdir is offered
    assert f"--config.checkpoint.init_from={workdir} with another --workdir" in err[0]

    # Harmless: how long, how often, how fast, on how many devices; a default made explicit.
    assert cli.main(base[:5] + ["--config.model.num_classes=10", "--config.steps=8",
                                "--config.log_every=4", "--config.eval_every=8",
                                "--config.checkpoint_every=4", "--config.batch_size=16",
                                "--config.optimizer.learning_rate=0.01",
                                "--config.num_devices=4", *base[10:]]) == 0
    assert "resumed from" in capsys.readouterr().err
    assert _steps(str(workdir))[-1] == 8


def test_init_from_fine_tunes_from_another_runs_parameters_with_a_fresh_optimizer(tmp_path):
    pretrained = str(tmp_path / "pretrain")
    pretrain = train(tiny(steps=20, eval_every=20, checkpoint_every=20), pretrained)
    assert pretrain["eval_accuracy"] > 0.4
    before = {name: (tmp_path / "pretrain" / name).stat().st_mtime_ns
              for name in ("config.json", "metrics.jsonl")}

    # sgd with a negligible learning rate: the fine-tuned model is the pretrained one.
    workdir = str(tmp_path / "fine")
    fine = dict(steps=5, eval_every=5, **{"optimizer.name": "sgd",
                                          "optimizer.learning_rate": 1e-12,
                                          "checkpoint.init_from": pretrained})
    stream = io.StringIO()
    metrics = train(tiny(**fine), workdir, stream=stream)
    assert f"fine-tuning from the parameters of {pretrained}/checkpoints/20" in stream.getvalue()
    assert metrics["eval_loss"] == pytest.approx(pretrain["eval_loss"], rel=1e-4)
    assert _steps(workdir) == [5]  # a new run, from step 0
    assert sorted(_losses(workdir)) == [1, 2, 3, 4, 5]
    # the pretraining run is only read
    assert _steps(pretrained) == [20] and sorted(_losses(pretrained))[-1] == 20
    assert before == {name: (tmp_path / "pretrain" / name).stat().st_mtime_ns for name in before}

    # Started again, the fine-tuning run resumes from its own checkpoint.
    stream = io.StringIO()
    train(tiny(**{**fine, "steps": 8}), workdir, stream=stream)
    assert f"resumed from {workdir}/checkpoints/5" in stream.getvalue()

    # An exported model file works the same (float16 storage comes back as float32).
    exported = str(tmp_path / "model.msgpack")
    assert cli.main(["export", "--workdir", pretrained, "--out", exported,
                     "--dtype", "float16"]) == 0
    stream = io.StringIO()
    metrics = train(tiny(**{**fine, "checkpoint.init_from": exported}), str(tmp_path / "f2"),
                    stream=stream)
    assert f"fine-tuning from the parameters of {exported}" in stream.getvalue()
    assert metrics["eval_loss"] == pytest.approx(pretrain["eval_loss"], rel=1e-2)  # float16 rounding


def test_init_from_errors_name_the_path(tmp_path):
    with pytest.raises(UserError, match="'checkpoint.init_from': .*nowhere not found"):
        train(tiny(**{"checkpoint.init_from": str(tmp_path / "nowhere")}), str(tmp_path / "a"))
    other = str(tmp_path / "other")
    train(tiny(steps=5, eval_every=5, checkpoint_every=5, **{"model.name": "cnn_small"}), other)
    with pytest.raises(UserError, match=f"the parameters in {other}/checkpoints/5 do not fit "
                                        f"this model: model.name: 'cnn_small' in the checkpoint"):
        train(tiny(**{"checkpoint.init_from": other}), str(tmp_path / "b"))
    assert not (tmp_path / "b" / "checkpoints").exists() or not os.listdir(
        tmp_path / "b" / "checkpoints")


def test_the_best_checkpoint_survives_a_restart(tmp_path):
    config = tiny(**{"checkpoint.keep_latest": 1, "checkpoint.keep_best": 1,
                     "checkpoint.best_metric": "eval_accuracy"})
    state = {"w": jnp.ones(3)}
    checkpointer = Checkpointer(tmp_path / "ckpt", config.checkpoint)
    checkpointer.save(1, state, {"step": 1}, metrics={"eval_accuracy": 0.9})
    checkpointer.save(2, state, {"step": 2}, metrics={"eval_accuracy": 0.5})
    checkpointer.close()
    assert checkpointer.all_steps() == [1, 2]
    checkpointer = Checkpointer(tmp_path / "ckpt", config.checkpoint)  # a resumed run
    checkpointer.save(3, state, {"step": 3}, metrics={"eval_accuracy": 0.4})
    checkpointer.close()
    assert sorted(int(n) for n in os.listdir(tmp_path / "ckpt") if n.isdigit()) == [1, 3]


def test_saves_between_evaluations_do_not_warn_about_missing_metrics(tmp_path, caplog):
    config = tiny(**{"checkpoint.keep_latest": 1, "checkpoint.keep_best": 1,
                     "checkpoint.best_metric": "eval_accuracy"})
    checkpointer = Checkpointer(tmp_path / "ckpt", config.checkpoint)
    with caplog.at_level("WARNING"):
        checkpointer.save(1, {"w": jnp.ones(3)}, {"step": 1}, metrics={"eval_accuracy": 0.9})
        checkpointer.save(2, {"w": jnp.ones(3)}, {"step": 2})  # between evaluations
    checkpointer.close()
    assert checkpointer.all_steps() == [1, 2]
    assert not [r for r in caplog.records if "metrics" in r.getMessage()], caplog.text
    other = logging.getLogger("absl")
    with caplog.at_level("WARNING"):
        other.warning("Requested `tracked_metric`; did not provide metrics.")
    assert "did not provide metrics" in caplog.text  # only the save is filtered
