"""Two processes × 4 CPU devices on localhost (gloo collectives), as `jaxshadow train` runs them.

The pair logs the losses of one process × 8 devices; when one process is killed the other is
stopped by JAX's heartbeat check within HEARTBEAT_S seconds (+ polling), and running the pair
again resumes from the last checkpoint to the same losses.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import metrics_records
from jaxshadow import config as config_lib
from jaxshadow.cli import main
from jaxshadow.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_cnn.py")
STEPS = 48
HEARTBEAT_S = 5
ARGS = ["--config.model.name=cnn_tiny", f"--config.steps={STEPS}", "--config.batch_size=16",
        "--config.log_every=1", f"--config.eval_every={STEPS}", "--config.checkpoint_every=4",
        "--config.data.reader=numpy"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_pair(workdir, logs):
    """Processes 0 and 1 of a 2-process run, 4 CPU devices each."""
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "4",
           "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo"}
    return [subprocess.Popen(
        [sys.executable, "-m", "jaxshadow", "train", "--config", DIGITS, "--workdir", workdir,
         *ARGS, "--coordinator-address", f"127.0.0.1:{port}", "--num-processes", "2",
         "--process-id", str(i), "--heartbeat-timeout", str(HEARTBEAT_S)],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env) for i, log in enumerate(logs)]


def _losses(workdir):
    return {r["step"]: r["loss"] for r in metrics_records(workdir) if "loss" in r}


def test_two_processes_match_one_survive_a_killed_peer_and_resume(tmp_path):
    reference = str(tmp_path / "reference")
    train(config_lib.resolve(DIGITS, [*ARGS, "--config.num_devices=8"]), reference)

    workdir = str(tmp_path / "run")
    logs = [open(tmp_path / f"first{i}.txt", "w") for i in range(2)]
    procs = _start_pair(workdir, logs)
    deadline = time.monotonic() + 120
    while not os.path.isdir(os.path.join(workdir, "checkpoints", "4")):
        assert time.monotonic() < deadline and procs[0].poll() is None, "no checkpoint 4"
        time.sleep(0.05)
    assert procs[1].poll() is None, "the run ended before the kill"
    procs[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    status = procs[0].wait(timeout=HEARTBEAT_S + 30)  # a hang fails here
    waited = time.monotonic() - killed
    procs[1].wait()
    for log in logs:
        log.close()
    print(f"\nprocess 0 stopped {waited:.1f}s after its peer was killed (status {status})")
    assert status != 0
    output = (tmp_path / "first0.txt").read_text()
    # The coordinator reports the dead task, or, when the kill lands inside a collective,
    # the CPU collectives' transport (Gloo) aborts on the broken connection: both stop at once.
    reasons = ("another task died", "heartbeat", "gloo::EnforceNotMet")
    assert any(reason in output for reason in reasons), output[-2000:]

    logs = [open(tmp_path / f"second{i}.txt", "w") for i in range(2)]
    procs = _start_pair(workdir, logs)
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    for log in logs:
        log.close()
    assert "resumed from" in (tmp_path / "second0.txt").read_text()
    assert "resumed from" not in (tmp_path / "second1.txt").read_text()  # process 0 reports
    got, want = _losses(workdir), _losses(reference)
    assert sorted(got) == sorted(want) == list(range(1, STEPS + 1))
    np.testing.assert_allclose([got[s] for s in want], list(want.values()), rtol=1e-5)
    accuracy = [r["eval_accuracy"] for r in metrics_records(workdir) if "eval_accuracy" in r]
    assert accuracy == pytest.approx(
        [r["eval_accuracy"] for r in metrics_records(reference) if "eval_accuracy" in r])


@pytest.mark.parametrize("flags, message", [
    (["--num-processes", "2"], "give all three or none"),
    (["--coordinator-address", "localhost", "--num-processes", "2", "--process-id", "0"],
     "must be HOST:PORT"),
    (["--coordinator-address", "h:1", "--num-processes", "2", "--process-id", "2"],
     r"--process-id must be in \[0, 1\]"),
])
def test_distributed_flags_all_or_none(tmp_path, capsys, flags, message):
    assert main(["train", "--config", DIGITS, "--workdir", str(tmp_path), *flags]) == 2
    assert re.search(message, capsys.readouterr().err)
