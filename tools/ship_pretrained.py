"""Exports a finished `configs/pretrain_photos.py` run as the shipped model, with its record.

    python tools/ship_pretrained.py --workdir runs/photos --commit SHA [--machine TEXT]

writes `jaxshadow/pretrained/photos.msgpack` (float16 storage) and `photos.json`: the commands,
the commit the run was trained at, its steps, data (folders, photo and view counts, the
packages and licences of the photos), wall time (from the run's first file to its last
checkpoint), the machine, and the run's last evaluation on its own rendered test set.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jaxshadow import pretrained  # noqa: E402
from jaxshadow.data.sources import make_source  # noqa: E402
from jaxshadow.export import export_workdir  # noqa: E402
from jaxshadow.files import atomic_write  # noqa: E402
from jaxshadow.loading import load_run_config  # noqa: E402

PACKAGES = ("mate-backgrounds", "lomiri-wallpapers", "lomiri-wallpapers-16.04",
            "lomiri-wallpapers-20.04", "ukui-wallpapers", "plasma-workspace-wallpapers",
            "gnome-backgrounds")
LICENCES = ("CC-BY-2.0, CC-BY-4.0, CC-BY-SA-2.0/3.0/4.0, CC0-1.0 and GPL-2+, per file: "
            "/usr/share/doc/<package>/copyright of each package")


def _package_versions():
    versions = {}
    for name in PACKAGES:
        try:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], text=True,
                                 capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = "not installed here"
        versions[name] = out
    return versions


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--commit", required=True, help="the commit the run was trained at")
    p.add_argument("--machine", default="2 CPU cores (AMD EPYC), no accelerator")
    args = p.parse_args()

    summary = export_workdir(args.workdir, str(pretrained.MODEL_FILE), dtype="float16")
    config = load_run_config(args.workdir)
    source = make_source(config.data)
    records = [json.loads(line) for line in open(os.path.join(args.workdir, "metrics.jsonl"))]
    evaluation = [r for r in records if "eval_lab_shadow" in r][-1]
    checkpoints = Path(args.workdir) / "checkpoints"
    start = (Path(args.workdir) / "config.json").stat().st_mtime
    end = max(p.stat().st_mtime for p in checkpoints.rglob("*"))
    record = {
        "config": "configs/pretrain_photos.py",
        "command": f"jaxshadow train --config configs/pretrain_photos.py --workdir {args.workdir}",
        "export_command": f"jaxshadow export --workdir {args.workdir} --out "
                          f"jaxshadow/pretrained/photos.msgpack --dtype float16",
        "commit": args.commit,
        "steps": summary["step"],
        "batch_size": config.batch_size,
        "parameters": summary["num_params"],
        "bytes": summary["bytes"],
        "data": {"source": config.data.source, "packages": _package_versions(),
                 "train_photos": source.num_photos("train"),
                 "test_photos": source.num_photos("test"),
                 "train_views": source.num_examples("train"),
                 "photo_size": config.data.photo_size,
                 "photo_scales": list(config.data.photo_scales),
                 "crop": config.data.crop, "shadows": config.data.shadows},
        "licences": LICENCES,
        "wall_time_s": round(end - start),
        "machine": args.machine,
        "predict_size": config.predict_size,
        "eval_rendered_test": {k: round(v, 4) for k, v in evaluation.items() if k != "step"},
    }
    atomic_write(str(pretrained.PROVENANCE_FILE), json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
