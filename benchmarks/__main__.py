"""python -m benchmarks {conv,train,input,all} [--quick] [--json PATH] [--peers] [--chart PATH]
[--model NAME --batch-size N --image-size S] [--rounds N]
python -m benchmarks real [--export FILE | --workdir W] [--size S] [--grid PNG] [--guided-grid PNG]
                          [--json PATH]"""

import argparse
import os
import sys

# Peers share the process (and the GPU): XLA must not take 75 % of its memory up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from benchmarks import report, suite  # noqa: E402  (after the allocator setting)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("which", choices=("conv", "train", "input", "all", "real"))
    p.add_argument("--quick", action="store_true", help="small shapes, few repeats (CI)")
    p.add_argument("--json", help="write the records here")
    p.add_argument("--chart", help="write a PNG chart here")
    p.add_argument("--peers", action="store_true", help="also time PyTorch and Keras/TF")
    p.add_argument("--model", help="train: one model (with --batch-size, --image-size)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "both"), default="float32",
                   help="train: compute dtype of the steps (both: one record each)")
    p.add_argument("--rounds", type=int, default=1,
                   help="train: time JAX and the peers one after the other N times; the ratio "
                        "is the median of the per-round ratios (noisy shared hosts)")
    p.add_argument("--batch-size", type=int, help="train batch; conv: U-Net batch")
    p.add_argument("--image-size", type=int, help="train image size; conv: U-Net image size")
    p.add_argument("--export", dest="model_file", help="real: an export file (default: the "
                                                       "shipped model)")
    p.add_argument("--workdir", help="real: a run directory instead")
    p.add_argument("--size", type=int, help="real: working resolution (default: the model's)")
    p.add_argument("--grid", help="real: write the before/after grid here (PNG)")
    p.add_argument("--guided-grid", help="real: write 114-5 guided by a rough mask here (PNG)")
    p.add_argument("--data", help="real: the folder of real images (default ../shared/data/real)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")
    log = lambda line: print(line, file=sys.stderr, flush=True)
    if args.which == "real":
        from benchmarks import real_photos
        from jaxshadow.errors import UserError
        try:
            real_photos.main(args)
        except UserError as e:
            print(f"python -m benchmarks real: error: {e}", file=sys.stderr)
            sys.exit(2)
        return

    status = suite.peers_status(args.peers)
    for peer, state in status.items():
        if args.peers and state == "not installed":
            log(f"peer {peer}: not installed, its columns stay empty")
    peak = suite.peaks(args.quick)
    log("matmul peak: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peak.items()))
    records = []
    if args.which in ("conv", "all"):
        specs = None
        if args.image_size or args.batch_size:
            from benchmarks.specs import model_conv_specs
            specs = model_conv_specs(args.image_size or 256, args.batch_size or 8)
        records += suite.run_conv(peak, quick=args.quick, peers=args.peers, specs=specs, log=log)
    if args.which in ("train", "all"):
        models = None
        if args.model:
            from benchmarks.train import DEFAULTS
            batch, size, _ = DEFAULTS.get(args.model, (8, 128, 3))
            models = [(args.model, args.batch_size or batch, args.image_size or size)]
        dtypes = ("float32", "bfloat16") if args.dtype == "both" else (args.dtype,)
        records += suite.run_train(peak, quick=args.quick, peers=args.peers, models=models,
                                   dtypes=dtypes, rounds=args.rounds, log=log)
    if args.which in ("input", "all"):
        records += suite.run_input(quick=args.quick, log=log)
    meta = suite.machine(peak, args.peers)
    print(f"machine: {meta['cpu']}, {meta['cpu_count']} cores, jax {meta['jax']} "
          f"({meta['backend']}), peers: {meta['peers']}")
    print(report.markdown(records))
    if args.json:
        report.write_json(args.json, meta, records)
    if args.chart:
        report.write_chart(args.chart, records)


if __name__ == "__main__":
    main()
