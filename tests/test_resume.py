"""Fault tolerance of `jaxshadow train`: kill -9 and SIGTERM at random moments, then resume."""

import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import metrics_records
from jaxshadow import config as config_lib
from jaxshadow.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_cnn.py")
# cnn_tiny on 2 of the 8 simulated devices: a few ms a step, a checkpoint every 3 steps; enough
# steps that a fast machine cannot finish the run between a checkpoint and the signal.
STEPS = 90
ARGS = ["--config.model.name=cnn_tiny", f"--config.steps={STEPS}", "--config.batch_size=16",
        "--config.log_every=1", "--config.eval_every=1000", "--config.checkpoint_every=3",
        "--config.checkpoint.keep_latest=2", "--config.num_devices=2",
        "--config.data.reader=numpy"]


def _losses(workdir):
    """{step: loss} from metrics.jsonl, asserting no step is logged twice."""
    steps = [r["step"] for r in metrics_records(workdir) if "loss" in r]
    assert len(steps) == len(set(steps)), f"duplicate steps in metrics.jsonl: {steps}"
    return {r["step"]: r["loss"] for r in metrics_records(workdir) if "loss" in r}


def _checkpoints(workdir):
    path = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(path) if n.isdigit()) if os.path.isdir(path) else []


def _start(workdir, log):
    return subprocess.Popen([sys.executable, "-m", "jaxshadow", "train", "--config", DIGITS,
                             "--workdir", workdir, *ARGS],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def _wait_for_checkpoint_after(workdir, step, proc, timeout=120):
    """Waits until a checkpoint newer than `step` is complete (or the process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None or any(s > step for s in _checkpoints(workdir)):
            return
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """{step: loss} of the uninterrupted run."""
    workdir = str(tmp_path_factory.mktemp("reference") / "run")
    train(config_lib.resolve(DIGITS, ARGS), workdir)
    losses = _losses(workdir)
    assert sorted(losses) == list(range(1, STEPS + 1))
    return losses


def test_kill_9_twice_then_sigterm_at_random_moments_resumes_to_identical_losses(
        tmp_path, reference):
    workdir = str(tmp_path / "run")
    rng = random.Random(5)
    for attempt, sig in enumerate([signal.SIGKILL, signal.SIGKILL, signal.SIGTERM]):
        before = max(_checkpoints(workdir), default=0)
        with open(tmp_path / f"log{attempt}.txt", "w") as log:
            proc = _start(workdir, log)
            _wait_for_checkpoint_after(workdir, before, proc)
            time.sleep(rng.uniform(0.0, 0.2))
            assert proc.poll() is None, f"the run ended before {sig.name}"
            sent = time.monotonic()
            proc.send_signal(sig)
            status = proc.wait(timeout=30)
        assert status == (-signal.SIGKILL if sig == signal.SIGKILL else 0)

    # SIGTERM: the step in progress finished, saved, logged; the process left in seconds.
    assert time.monotonic() - sent < 15
    output = (tmp_path / "log2.txt").read_text()
    line = next(l for l in output.splitlines() if l.startswith("stopped by SIGTERM"))
    step = int(line.split("after step ")[1].split(";")[0])
    assert line.endswith(f"saved {os.path.abspath(workdir)}/checkpoints/{step}")
    assert 0 < step < STEPS and max(_checkpoints(workdir)) == step
    assert max(_losses(workdir)) == step

    stream = io.StringIO()
    train(config_lib.resolve(DIGITS, ARGS), workdir, stream=stream)  # to completion
    assert f"resumed from {os.path.abspath(workdir)}/checkpoints/{step}" in stream.getvalue()
    assert _losses(workdir) == reference  # bitwise: the same floats at every step 1..STEPS
    leftovers = [n for n in os.listdir(os.path.join(workdir, "checkpoints")) if "tmp" in n]
    assert not leftovers, f"temporary directories of killed saves remain: {leftovers}"
