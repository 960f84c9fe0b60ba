"""Exports a finished `configs/pretrain_photos.py` run as the shipped model, with its record.

    python tools/ship_pretrained.py --workdir runs/photos --commit SHA [--machine TEXT]
    python tools/ship_pretrained.py --detector runs/detector --commit SHA [--machine TEXT]
    python tools/ship_pretrained.py --stage-two runs/veil_balanced \
        --config configs/finetune_veil_balanced.py --commit SHA [--machine TEXT]

The first writes `jaxshadow/pretrained/photos.msgpack` (float16 storage) and `photos.json`:
the commands, the commit the run was trained at, its steps, data (folders, photo and view
counts, the packages and licences of the photos), wall time (from the run's first file to its last
checkpoint), the machine, and the run's last evaluation on its own rendered test set.
The second keeps the shipped model's remover and replaces its detector by a finished
`configs/photos_detector.py` run (`jaxshadow export --detector`), adding the detector's own
record (command, commit, steps, wall time, evaluation) under "detector" in `photos.json`.
The third ships a finished continuation of the shipped model (a run whose
`checkpoint.init_from` was the shipped model's export, with the configuration of `--config`:
checked field by field) and moves the shipped model's record under "stage_one".
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


def _data_record(config):
    source = make_source(config.data)
    return {"source": config.data.source, "packages": _package_versions(),
            "train_photos": source.num_photos("train"),
            "test_photos": source.num_photos("test"),
            "train_views": source.num_examples("train"),
            "photo_size": config.data.photo_size,
            "photo_scales": list(config.data.photo_scales),
            "crop": config.data.crop, "shadows": config.data.shadows}


def _config_differences(config_file, run_config):
    """`jaxshadow.train.compat.config_differences` of a run's configuration (as "in the
    checkpoint") against `config_file`'s (as "now"), leaving out `checkpoint.init_from`
    (where the run was continued from)."""
    from jaxshadow import config as config_lib
    from jaxshadow.train.compat import config_differences

    run = json.loads(config_lib.to_json(run_config))
    return config_differences(run, config_lib.load(config_file),
                              lambda key: key != "checkpoint.init_from")


def ship_stage_two(args):
    """The run `args.stage_two` (continued from the shipped model) shipped in its place; the
    shipped model's record kept under "stage_one"."""
    stage_one = json.loads(pretrained.PROVENANCE_FILE.read_text())
    config = load_run_config(args.stage_two)
    differences = _config_differences(args.config, config)
    if differences:
        sys.exit(f"{args.stage_two} was not trained with {args.config}: "
                 f"{'; '.join(differences)}")
    stage_one["export_command"] = stage_one["export_command"].replace(
        "jaxshadow/pretrained/photos.msgpack", "stage_one.msgpack")
    summary = export_workdir(args.stage_two, str(pretrained.MODEL_FILE), dtype="float16")
    wall_time_s = _wall_time_s(args.stage_two)
    record = {
        "config": args.config,
        "command": f"jaxshadow train --config {args.config} --workdir {args.stage_two} "
                   f"--config.checkpoint.init_from=stage_one.msgpack",
        "export_command": f"jaxshadow export --workdir {args.stage_two} --out "
                          f"jaxshadow/pretrained/photos.msgpack --dtype float16",
        "commit": args.commit,
        "steps": summary["step"],
        "total_steps": stage_one["steps"] + summary["step"],
        "batch_size": config.batch_size,
        "parameters": summary["num_params"],
        "bytes": summary["bytes"],
        "data": _data_record(config),
        "licences": LICENCES,
        "wall_time_s": wall_time_s,
        "total_wall_time_s": stage_one["wall_time_s"] + wall_time_s,
        "machine": args.machine,
        "predict_size": config.predict_size,
        "eval_rendered_test": _last_evaluation(args.stage_two, "eval_lab_shadow"),
        "stage_one": stage_one,
    }
    if args.command_as_run:
        record["command_as_run"] = args.command_as_run
    atomic_write(str(pretrained.PROVENANCE_FILE), json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


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
    which.add_argument("--stage-two", help="a finished run continued from the shipped model")
    p.add_argument("--config", help="with --stage-two: the config file it was trained with")
    p.add_argument("--command-as-run", help="with --stage-two: the command as it was run, where "
                   "it named the configuration by overrides rather than by --config's file")
    p.add_argument("--commit", required=True, help="the commit the run was trained at")
    p.add_argument("--machine", default="2 CPU cores (AMD EPYC), no accelerator")
    args = p.parse_args()
    if args.detector:
        return ship_detector(args)
    if args.stage_two:
        if not args.config:
            p.error("--stage-two needs --config (the config file the run was trained with)")
        return ship_stage_two(args)

    summary = export_workdir(args.workdir, str(pretrained.MODEL_FILE), dtype="float16")
    config = load_run_config(args.workdir)
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
        "data": _data_record(config),
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
