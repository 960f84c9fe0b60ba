"""`jaxshadow export`: a run's parameters in one msgpack file, loaded back to the same model."""

import os

import jax
import numpy as np
import pytest

from helpers import digits_config
from jaxshadow import cli
from jaxshadow.data.sources import make_source
from jaxshadow.errors import UserError
from jaxshadow.export import export_workdir, load_exported
from jaxshadow.train.checkpoints import abstract_like, restore_latest
from jaxshadow.train.loop import train
from jaxshadow.train.setup import build_run
from jaxshadow.train.steps import eval_variables


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(workdir, config) of a short digits run that keeps an EMA of its parameters."""
    config = digits_config(**{"model.name": "cnn_tiny", "steps": 10, "batch_size": 16,
                              "eval_every": 1000, "optimizer.ema_decay": 0.9})
    workdir = str(tmp_path_factory.mktemp("export") / "run")
    train(config, workdir)
    return workdir, config


def _test_images(config, n=16):
    source = make_source(config.data)
    return np.stack([source.read("test", i)["image"] for i in range(n)]).astype(
        np.float32) / 255.0


def test_export_then_load_gives_the_runs_logits(trained, tmp_path, capsys):
    workdir, config = trained
    out = tmp_path / "model.msgpack"
    assert cli.main(["export", "--workdir", workdir, "--out", str(out)]) == 0
    assert "exported step 10" in capsys.readouterr().out
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]

    model, variables, loaded_config = load_exported(str(out))
    assert loaded_config.model.to_dict() == {**config.model.to_dict(), "num_classes": 10}
    assert loaded_config.task == "classification"

    run = build_run(config)
    target = abstract_like(run.abstract_state, run.state_sharding)
    state, _, step = restore_latest(workdir, config.checkpoint, lambda meta: target)
    assert step == 10
    images = _test_images(config)
    expected = run.model.apply(eval_variables(state), images)
    logits = model.apply(variables, images, train=False)
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(expected))
    # The EMA is what was exported, not the raw parameters.
    ema, raw = jax.tree.leaves(state.ema_params), jax.tree.leaves(state.params)
    got = jax.tree.leaves(variables["params"])
    assert all(np.array_equal(a, b) for a, b in zip(got, ema))
    assert not all(np.array_equal(a, b) for a, b in zip(got, raw))


def test_export_is_atomic_and_refuses_bad_paths(trained, tmp_path):
    workdir, _ = trained
    out = tmp_path / "model.msgpack"
    out.write_bytes(b"previous")
    with pytest.raises(UserError, match="cannot write .*missing/model.msgpack"):
        export_workdir(workdir, str(tmp_path / "missing" / "model.msgpack"))
    with pytest.raises(UserError, match="is a directory"):
        export_workdir(workdir, str(tmp_path))
    with pytest.raises(UserError, match="no checkpoints in"):
        export_workdir(str(tmp_path), str(out))
    assert out.read_bytes() == b"previous"
    summary = export_workdir(workdir, str(out))
    assert summary["step"] == 10 and summary["bytes"] == out.stat().st_size


def test_load_refuses_foreign_truncated_and_tampered_files(trained, tmp_path, capsys):
    workdir, _ = trained
    good = tmp_path / "model.msgpack"
    export_workdir(workdir, str(good))
    data = good.read_bytes()

    foreign = tmp_path / "foreign.msgpack"
    foreign.write_bytes(b"\x81\xa1a\x01")  # valid msgpack {'a': 1}
    truncated = tmp_path / "truncated.msgpack"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path, message in [(foreign, "is not a jaxshadow export"),
                          (truncated, "is not a jaxshadow export"),
                          (text, "is not a jaxshadow export"),
                          (tmp_path / "absent.msgpack", "cannot read")]:
        with pytest.raises(UserError, match=message):
            load_exported(str(path))

    # A file whose arrays do not fit its model (here: another model name in its config).
    from flax import serialization
    payload = serialization.msgpack_restore(data)
    payload["config"] = payload["config"].replace('"cnn_tiny"', '"cnn_small"')
    tampered = tmp_path / "tampered.msgpack"
    tampered.write_bytes(serialization.msgpack_serialize(payload))
    with pytest.raises(UserError, match="arrays do not match the model 'cnn_small'"):
        load_exported(str(tampered))

    assert cli.main(["export", "--workdir", str(tmp_path / "nowhere"), "--out",
                     str(tmp_path / "x.msgpack")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoints in" in err[0]


def test_float16_storage_halves_the_file_and_loads_as_float32(trained, tmp_path):
    workdir, _ = trained
    full, half = tmp_path / "full.msgpack", tmp_path / "half.msgpack"
    assert cli.main(["export", "--workdir", workdir, "--out", str(full)]) == 0
    assert cli.main(["export", "--workdir", workdir, "--out", str(half), "--dtype",
                     "float16"]) == 0
    assert half.stat().st_size < 0.6 * full.stat().st_size
    _, exact, _ = load_exported(str(full))
    _, rounded, _ = load_exported(str(half))
    for a, b in zip(jax.tree.leaves(exact), jax.tree.leaves(rounded)):
        assert b.dtype == np.float32
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2**-11, atol=2**-24)
