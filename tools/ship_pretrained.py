"""Exports a finished `configs/pretrain_photos.py` run as the shipped model, with its record.

    python tools/ship_pretrained.py --workdir runs/photos --commit SHA [--machine TEXT]
    python tools/ship_pretrained.py --detector runs/detector --commit SHA [--machine TEXT]

The first writes `jaxshadow/pretrained/photos.msgpack` (float16 storage) and `photos.json`:
the commands, the commit the run was trained at, its steps, data (folders, photo and view
counts, the packages and licences of the photos), wall time (from the run's first file to its last
checkpoint), the machine, and the run's last evaluation on its own rendered test set.
The second keeps the shipped model's remover and replaces its detector by a finished
`configs/photos_detector.py` run (`jaxshadow export --detector`), adding the detector's own
record (command, commit, steps, wall time, evaluation) under "detector" in `photos.json`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxshadow import pretrained  # noqa: E402
from jaxshadow.data.sources import make_source  # noqa: E402
from jaxshadow.export import export_model, export_workdir  # noqa: E402
from jaxshadow.files import atomic_write  # noqa: E402
from jaxshadow.loading import load_run_config, load_trained  # noqa: E402

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


def _wall_time_s(workdir):
    """From the run's first file (its config) to its last checkpoint file, in seconds."""
    start = (Path(workdir) / "config.json").stat().st_mtime
    end = max(p.stat().st_mtime for p in (Path(workdir) / "checkpoints").rglob("*"))
    return round(end - start)


def _last_evaluation(workdir, key):
    records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    evaluation = [r for r in records if key in r][-1]
    return {k: round(v, 4) for k, v in evaluation.items() if k != "step"}


def ship_detector(args):
    """The shipped model with the detector of the run `args.detector`; the record extended."""
    record = json.loads(pretrained.PROVENANCE_FILE.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        joint = os.path.join(tmp, "joint.msgpack")
        shutil.copyfile(pretrained.MODEL_FILE, joint)
        summary = export_model(joint, str(pretrained.MODEL_FILE), dtype="float16",
                               detector=args.detector)
    det = load_trained(args.detector)
    config = det.config
    record["export_command"] = (f"{record['export_command']} && jaxshadow export --model "
                                f"jaxshadow/pretrained/photos.msgpack --detector {args.detector} "
                                f"--out jaxshadow/pretrained/photos.msgpack --dtype float16")
    record["parameters"], record["bytes"] = summary["num_params"], summary["bytes"]
    record["detector"] = {
        "config": "configs/photos_detector.py",
        "command": f"jaxshadow train --config configs/photos_detector.py "
                   f"--workdir {args.detector}",
        "commit": args.commit,
        "steps": int(det.step),
        "batch_size": config.batch_size,
        "parameters": sum(int(np.size(x)) for x in jax.tree.leaves(det.variables["params"])),
        "data": {"source": config.data.source, "photo_size": config.data.photo_size,
                 "photo_scales": list(config.data.photo_scales), "crop": config.data.crop,
                 "shadows": config.data.shadows},
        "wall_time_s": _wall_time_s(args.detector),
        "machine": args.machine,
        "eval_rendered_test": _last_evaluation(args.detector, "eval_ber"),
    }
    atomic_write(str(pretrained.PROVENANCE_FILE), json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--workdir", help="a finished configs/pretrain_photos.py run")
    which.add_argument("--detector", help="a finished configs/photos_detector.py run")
    p.add_argument("--commit", required=True, help="the commit the run was trained at")
    p.add_argument("--machine", default="2 CPU cores (AMD EPYC), no accelerator")
    args = p.parse_args()
    if args.detector:
        return ship_detector(args)

    summary = export_workdir(args.workdir, str(pretrained.MODEL_FILE), dtype="float16")
    config = load_run_config(args.workdir)
    source = make_source(config.data)
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
        "wall_time_s": _wall_time_s(args.workdir),
        "machine": args.machine,
        "predict_size": config.predict_size,
        "eval_rendered_test": _last_evaluation(args.workdir, "eval_lab_shadow"),
    }
    atomic_write(str(pretrained.PROVENANCE_FILE), json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
