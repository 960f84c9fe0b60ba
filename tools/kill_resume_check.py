"""Kills `jaxshadow train` with SIGKILL at random moments, resumes it, compares the losses.

    python tools/kill_resume_check.py --config configs/demo.py --reference runs/demo \
        --workdir /tmp/killed --kills 3 [--seed 0] [--earliest 40] [--latest 200] \
        [-- --config.KEY=VALUE ...]

`--reference` is a finished, uninterrupted run of the same config. The same `jaxshadow train`
command is started in `--workdir` and killed (`kill -9`) `--kills` times, each after a uniform
random delay in [earliest, latest] seconds; then it runs to the end. Overrides after `--` go to
every start of the killed run (e.g. `--config.checkpoint_every=100` for more frequent
checkpoints: the cadence of checkpoints does not change the losses). Every loss logged in the
killed run's metrics.jsonl must equal the reference's at the same step, bit for bit, and no step
may be logged twice. Prints one line per kill and a verdict; exits 1 on any difference.
"""

import argparse
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


def losses(workdir):
    """{step: loss} from W/metrics.jsonl; raises if a step is logged twice."""
    records = [json.loads(line) for line in open(Path(workdir) / "metrics.jsonl")]
    steps = [r["step"] for r in records if "loss" in r]
    if len(steps) != len(set(steps)):
        raise SystemExit(f"{workdir}/metrics.jsonl logs a step twice: {steps}")
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--earliest", type=float, default=40.0)
    parser.add_argument("--latest", type=float, default=200.0)
    parser.add_argument("overrides", nargs="*", help="--config.KEY=VALUE for the killed run")
    args = parser.parse_args(argv)

    command = [sys.executable, "-m", "jaxshadow", "train", "--config", args.config,
               "--workdir", args.workdir, *args.overrides]
    rng = random.Random(args.seed)
    log = open(Path(args.workdir).parent / (Path(args.workdir).name + ".log"), "a")
    start = time.monotonic()
    for kill in range(1, args.kills + 1):
        delay = rng.uniform(args.earliest, args.latest)
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=delay)
            print(f"run {kill} ended by itself before its kill at {delay:.0f}s")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done = max(losses(args.workdir), default=0) if (
                Path(args.workdir) / "metrics.jsonl").exists() else 0
            print(f"kill {kill}: SIGKILL after {delay:.0f}s (last logged step {done})", flush=True)
    final = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if final.returncode:
        raise SystemExit(f"the resumed run failed with status {final.returncode}")

    got, want = losses(args.workdir), losses(args.reference)
    differ = [s for s in sorted(want) if got.get(s) != want[s]]
    print(f"{len(want)} logged losses compared, {len(differ)} differ; "
          f"{time.monotonic() - start:.0f}s in all")
    for s in differ[:10]:
        print(f"  step {s}: reference {want[s]!r}, killed and resumed {got.get(s)!r}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
