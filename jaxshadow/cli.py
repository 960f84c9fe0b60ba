"""`jaxshadow train | eval | predict | export | import-weights | data`

Parses arguments, then calls library code.

Bad input (a missing file, a bad key or value) ends with one line on stderr and exit status 2.
"""

import argparse
import json
import sys

from jaxshadow.errors import UserError

USAGE_ERROR = 2


def _train(args, overrides):
    from jaxshadow import config as config_lib

    config = config_lib.resolve(args.config, overrides)  # before the heavy imports
    from jaxshadow.train import distributed

    distributed.initialize(args.coordinator_address, args.num_processes, args.process_id,
                           heartbeat_timeout_s=args.heartbeat_timeout)  # before any JAX use
    from jaxshadow.train.loop import train

    metrics = train(config, args.workdir)
    print(json.dumps(metrics, sort_keys=True))


def _eval(args, overrides):
    from jaxshadow.eval_report import format_table, removal_result
    from jaxshadow.train.evaluate import evaluate_workdir

    _one_model(args)
    step, metrics, config = evaluate_workdir(args.workdir, args.split, model_file=args.model,
                                             data_source=args.data, white=args.white,
                                             eval_size=args.size)
    if config.task == "removal":
        result = removal_result(metrics, dataset=config.data.source, split=args.split,
                                step=step, white=args.white, size=args.size)
        print(format_table(result))
    else:
        result = {"dataset": config.data.source, "split": args.split, "step": step, **metrics}
        print(json.dumps(result, indent=2, sort_keys=True))
    if args.json:
        from jaxshadow.files import atomic_write
        atomic_write(args.json, json.dumps(result, indent=2) + "\n")


def _predict(args, overrides):
    from jaxshadow.inference import load_removal_model
    from jaxshadow.predict import predict_files

    trained, apply_fn, _ = load_removal_model(args.workdir, args.model,
                                              mask_guided=args.masks is not None)
    size = args.size if args.size is not None else trained.config.predict_size
    summary = predict_files(apply_fn, args.inputs, args.out, compare=args.compare,
                            tile=args.tile, overlap=args.overlap, size=size,
                            mask_dir=args.masks)
    images = [p for p in summary["written"] if not p.endswith(("_mask.png", "_compare.png"))]
    print(f"wrote {len(images)} images to {args.out}"
          + (f"; {len(summary['failed'])} inputs failed" if summary["failed"] else ""))
    if summary["failed"] and not images:
        raise UserError("no input could be processed")


def _export(args, overrides):
    from jaxshadow.export import export_model, export_workdir

    _one_model(args)
    if args.workdir:
        summary = export_workdir(args.workdir, args.out, dtype=args.dtype,
                                 detector=args.detector)
    else:
        summary = export_model(args.model, args.out, dtype=args.dtype, detector=args.detector)
    detector = f" with the detector of {args.detector}" if args.detector else ""
    print(f"exported step {summary['step']} of {args.workdir or args.model}{detector} "
          f"({summary['model']}, {summary['num_params']:,} parameters) to {args.out}")


def _import_weights(args, overrides):
    from jaxshadow.weights_import import import_weights

    summary = import_weights(args.arch, args.torch, args.out)
    options = ", ".join(f"{k}={v}" for k, v in summary["options"].items())
    print(f"imported {args.torch} as {summary['model']} ({options}; "
          f"{summary['num_params']:,} parameters) to {args.out}; run it with "
          f"`jaxshadow predict --model {args.out}`")


def _data_check(args, overrides):
    from jaxshadow.data.check import check_source

    name, _, path = args.source.partition(":")
    if not path:
        raise UserError(f"data check needs SOURCE as NAME:PATH (e.g. istd:/data/ISTD), "
                        f"got '{args.source}'")
    if name == "photos":
        from jaxshadow.data.check import check_photos
        report = check_photos(path)
    else:
        report = check_source(name, path)
    print("\n".join(report.lines()))
    if not report.ok:
        return 1
    return 0


def _data_prepare(args, overrides):
    from jaxshadow import config as config_lib

    config = (config_lib.complete(config_lib.load(args.config)) if args.config
              else config_lib.defaults())
    for key, value in config_lib.parse_overrides(overrides):
        config_lib.apply_override(config, key, value)
    config.data.source = args.source
    if args.shards is not None and args.shards < 1:
        raise UserError(f"--shards must be >= 1, got {args.shards}")
    from jaxshadow.data.prepare import prepare
    from jaxshadow.data.sources import make_source

    index = prepare(make_source(config.data, stream=True), args.out, source_spec=args.source,
                    shards=args.shards, data_options=config.data.to_dict())
    counts = ", ".join(f"{split} {info['num_examples']} examples in {len(info['shards'])} shards"
                       for split, info in index["splits"].items())
    print(f"prepared {args.source} in {args.out}: {counts}; train on it with "
          f"--config.data.source=prepared:{args.out}")


def _one_model(args):
    if bool(args.workdir) == bool(args.model):
        raise UserError("give either --workdir W (a run's newest checkpoint) or --model FILE "
                        "(a file written by `jaxshadow export`)")


def build_parser():
    parser = argparse.ArgumentParser(prog="jaxshadow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train or resume a run",
                                epilog="override any config key with --config.KEY=VALUE")
    train.add_argument("--config", required=True, help="config file (configs/*.py)")
    train.add_argument("--workdir", required=True, help="run directory (created; resumed)")
    train.add_argument("--coordinator-address", metavar="HOST:PORT",
                       help="multi-process run: process 0's address (with the next two)")
    train.add_argument("--num-processes", type=int, metavar="N", help="processes in the run")
    train.add_argument("--process-id", type=int, metavar="I", help="this process, 0 .. N-1")
    train.add_argument("--heartbeat-timeout", type=int, default=100, metavar="S",
                       help="multi-process run: a peer silent for S seconds stops the run")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="evaluate a run's newest checkpoint")
    evaluate.add_argument("--workdir", help="a run directory (its newest checkpoint)")
    evaluate.add_argument("--model", help="a file written by `jaxshadow export`, instead")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--data", help="evaluate on this source instead of the run's own, "
                                         "e.g. istd:/data/ISTD_Dataset")
    evaluate.add_argument("--white", choices=("D65", "D50"), default="D65",
                          help="Lab white point: D65 (skimage rgb2lab) or D50 (MATLAB "
                               "makecform('srgb2lab'), used by the published tables' scripts)")
    evaluate.add_argument("--size", type=int, default=256,
                          help="the resized protocol's side (the papers: 256); 0: native "
                               "resolution only")
    evaluate.add_argument("--json", help="also write the result to this JSON file")
    evaluate.set_defaults(run=_eval)

    predict = commands.add_parser("predict", help="remove shadows from your images (with the "
                                                  "shipped model unless --workdir or --model)")
    predict.add_argument("--workdir", help="a trained removal run (its newest checkpoint)")
    predict.add_argument("--model", help="a file written by `jaxshadow export`, instead")
    predict.add_argument("--size", type=int, default=None,
                         help="working resolution: the long side the network sees (its "
                              "correction is upsampled to full size); default: the model's "
                              "predict_size; 0: full resolution")
    predict.add_argument("--masks", metavar="DIR",
                         help="a folder of shadow masks, NAME_mask.* or NAME.* for each image NAME.* "
                              "(white = shadow): remove the shadow where the mask says instead "
                              "of where the model's detector finds it")
    predict.add_argument("--out", required=True, help="output folder (created)")
    predict.add_argument("--compare", action="store_true",
                         help="also write input | output | mask side by side")
    predict.add_argument("--tile", type=int, default=512, help="tile size for large images")
    predict.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels")
    predict.add_argument("inputs", nargs="+", help="image files or folders")
    predict.set_defaults(run=_predict)

    export = commands.add_parser("export", help="write a run's parameters and model config "
                                                "to one file (Flax msgpack)")
    export.add_argument("--workdir", help="a run directory (its newest checkpoint)")
    export.add_argument("--model", help="an export file instead (to store it in another "
                                        "dtype or give it another detector)")
    export.add_argument("--detector", metavar="PATH",
                        help="a shadow_detector run or export whose parameters replace the "
                             "detector of a joint model")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="storage of the parameters (float16: half the size)")
    export.set_defaults(run=_export)

    weights = commands.add_parser(
        "import-weights", help="convert a published PyTorch checkpoint (NAFNet, ShadowFormer) "
                               "into a file that predict and eval --model read")
    weights.add_argument("--arch", required=True, choices=("nafnet", "shadowformer"))
    weights.add_argument("--torch", required=True, metavar="FILE",
                         help="the official code's checkpoint (.pth, read with "
                              "weights_only=True, or .safetensors)")
    weights.add_argument("--out", required=True, help="the file to write (.msgpack)")
    weights.set_defaults(run=_import_weights)

    data = commands.add_parser("data", help="dataset tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser("check", help="validate a dataset without training")
    check.add_argument("source", help="NAME:PATH, e.g. istd:/data/ISTD_Dataset")
    check.set_defaults(run=_data_check)
    prepare = data_commands.add_parser(
        "prepare", help="decode and check a source once, write it as ArrayRecord shards",
        epilog="the source's options come from --config and --config.data.KEY=VALUE")
    prepare.add_argument("source", help="any data.source, e.g. istd:/data/ISTD_Dataset or "
                                        "photos:/usr/share/backgrounds")
    prepare.add_argument("--out", required=True, help="the folder to write (new or empty; an "
                                                      "interrupted preparation is resumed)")
    prepare.add_argument("--shards", type=int, help="shards per split (default: about 256 MB "
                                                    "each)")
    prepare.add_argument("--config", help="take the source's options (photo size, load size, "
                                          "...) from this config file")
    prepare.set_defaults(run=_data_prepare)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # `--config.KEY=VALUE` words are overrides, not argparse options.
    overrides = [a for a in argv if a.startswith("--config.")]
    words = [a for a in argv if not a.startswith("--config.")]
    args = build_parser().parse_args(words)
    try:
        takes_overrides = args.command == "train" or getattr(args, "data_command", "") == "prepare"
        if overrides and not takes_overrides:
            raise UserError(f"unexpected arguments: {' '.join(overrides)}")
        status = args.run(args, overrides)
    except UserError as e:
        print(f"jaxshadow {args.command}: error: {e}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"jaxshadow {args.command}: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
