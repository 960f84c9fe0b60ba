"""The command line: training runs and what they write, resume, eval, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import metrics_records
from jaxshadow import cli

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_cnn.py")
SHORT = ["--config.steps=20", "--config.log_every=5", "--config.eval_every=10",
         "--config.checkpoint_every=10", "--config.batch_size=32",
         "--config.optimizer.warmup_steps=2"]


def _losses(workdir):
    return {r["step"]: r["loss"] for r in metrics_records(workdir) if "loss" in r}


def test_train_writes_config_metrics_tensorboard_checkpoints(tmp_path, capsys):
    from jaxshadow.data.tf_setup import tensorflow_available
    from jaxshadow.train.report import NO_TENSORBOARD

    workdir = str(tmp_path / "run")
    assert cli.main(["train", "--config", DIGITS, "--workdir", workdir, *SHORT]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["steps"] == 20 and config["model"]["name"] == "cnn_small"
    records = metrics_records(workdir)
    train_records = [r for r in records if "loss" in r]
    assert [r["step"] for r in train_records] == [5, 10, 15, 20]
    for r in train_records:
        assert {"loss", "learning_rate", "images_per_sec", "accuracy",
                "data_wait_frac"} <= r.keys()
        assert 0.0 <= r["data_wait_frac"] <= 1.0
    evals = [r for r in records if "eval_accuracy" in r]
    assert [r["step"] for r in evals] == [10, 20]
    if tensorflow_available():
        assert os.listdir(tmp_path / "run" / "tb")
    else:  # the core install: no TensorBoard, and the run says how to get it
        assert NO_TENSORBOARD in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) >= ["10", "20"]

    # Resume: more steps in the same workdir continue from step 20.
    assert cli.main(["train", "--config", DIGITS, "--workdir", workdir, *SHORT[1:],
                     "--config.steps=30"]) == 0
    steps = [r["step"] for r in metrics_records(workdir) if "loss" in r]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert "resumed from" in capsys.readouterr().err

    out = tmp_path / "eval.json"
    assert cli.main(["eval", "--workdir", workdir, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["step"] == 30 and 0.0 <= result["accuracy"] <= 1.0


def test_eight_and_one_device_runs_log_the_same_losses(tmp_path):
    runs = {}
    for n in (8, 1):
        workdir = str(tmp_path / f"d{n}")
        assert cli.main(["train", "--config", DIGITS, "--workdir", workdir, *SHORT,
                         "--config.steps=10", f"--config.num_devices={n}"]) == 0
        runs[n] = _losses(workdir)
    assert runs[8].keys() == runs[1].keys()
    np.testing.assert_allclose([runs[8][k] for k in runs[8]], [runs[1][k] for k in runs[1]],
                               rtol=2e-4)


def test_digits_recipe_reaches_97_percent(tmp_path):
    from jaxshadow import config as config_lib
    from jaxshadow.train.loop import train

    config = config_lib.resolve(DIGITS, ["--config.num_devices=2"])
    metrics = train(config, str(tmp_path / "digits"))
    assert metrics["eval_accuracy"] >= 0.97


@pytest.mark.parametrize("words,message", [
    (["--config", "missing.py"], "config file not found: missing.py"),
    (["--config", DIGITS, "--config.batch_size=12"], "batch_size=12 does not divide over 8"),
    (["--config", DIGITS, "--config.steps=abc"], "bad value for steps"),
    (["--config", DIGITS, "--config.bach_size=8"], "did you mean 'batch_size'"),
    (["--config", DIGITS, "--config.data.source=nowhere"], "unknown data.source 'nowhere'"),
])
def test_bad_input_is_one_line_exit_2_and_keeps_the_workdir(tmp_path, capsys, words, message):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("keep me")
    assert cli.main(["train", "--workdir", str(workdir), *words]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert (workdir / "notes.txt").read_text() == "keep me"


def test_workdir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("data")
    assert cli.main(["train", "--config", DIGITS, "--workdir", str(path)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert path.read_text() == "data"


def test_eval_of_a_non_workdir(tmp_path, capsys):
    assert cli.main(["eval", "--workdir", str(tmp_path)]) == 2
    assert "config.json not found" in capsys.readouterr().err


def test_command_exits_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "jaxshadow", "train", "--config", "nope.py",
                           "--workdir", "/tmp/unused"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "jaxshadow train: error: config file not found: nope.py"
