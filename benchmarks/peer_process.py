"""Peers timed in their own process, so that neither runtime's thread pool competes with the
other's (XLA's and PyTorch's, or TensorFlow's, would otherwise share the cores).

    run(peer, model, batch_size, image_size, channels, threads=, repeats=, warmup=,
        options=) -> dict

starts `python -m benchmarks.peer_process ...`, which sets the peer's threads to `threads` (the
cores JAX uses) before its runtime starts, times the training step, and prints one JSON line:
{"median_s", "compile_s", "repeats", "params", "version", "setup"}. Peers:

    torch          eager, channels-last, torch.optim.Adam (on CUDA when torch sees a GPU:
                   cudnn.benchmark, bf16 autocast for dtype bfloat16); nafnet and shadowformer
                   are the official PyTorch modules (benchmarks/official_models.py)
    torch-compile  the same model through torch.compile (compile_s: the first, compiling step)
    keras-fit      Keras 3 on TensorFlow, model.fit over an in-memory array (peer_keras)

A peer that fails (not installed, torch.compile without a C++ compiler) comes back as
{"error": "one line"}.
"""

import argparse
import json
import os
import subprocess
import sys

PEERS = ("torch", "torch-compile", "keras-fit")


def jax_threads():
    """The cores this process (and so XLA:CPU) may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def run(peer, model, batch_size, image_size, channels, *, threads, repeats, warmup,
        dtype="float32", options=None, timeout_s=1800):
    """The peer's timing dict (see the module docstring), measured in a child process.
    dtype bfloat16: torch under autocast; Keras is timed in float32 only. options: the model's
    own options as the JAX model has them (config `model.*`; the zoo's models only)."""
    if dtype != "float32" and peer == "keras-fit":
        return {"error": "keras-fit is timed in float32 only"}
    command = [sys.executable, "-m", "benchmarks.peer_process", peer, model, str(batch_size),
               str(image_size), str(channels), f"--threads={threads}", f"--repeats={repeats}",
               f"--warmup={warmup}", f"--dtype={dtype}", f"--options={json.dumps(options or {})}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": "1"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"{peer} did not finish in {timeout_s} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{peer} failed (exit {done.returncode}): {tail[:200]}"}
    return json.loads(lines[-1])


def _measure(args):
    if args.peer.startswith("torch"):
        import torch

        from benchmarks import peer_torch

        torch.set_num_threads(args.threads)
        timing, params = peer_torch.time_train_step(
            args.model, args.batch_size, args.image_size, args.channels, repeats=args.repeats,
            warmup=args.warmup, compile=args.peer == "torch-compile", dtype=args.dtype,
            options=args.options)
        on = peer_torch.device()
        setup = (f"torch {torch.__version__} on {on}"
                 + (f" ({torch.cuda.get_device_name()}, cudnn.benchmark)" if on == "cuda"
                    else f", {args.threads} threads")
                 + f", channels-last, {'torch.compile' if args.peer == 'torch-compile' else 'eager'}"
                 + (", bf16 autocast" if args.dtype == "bfloat16" else "") + ", Adam")
    else:
        from benchmarks import peer_keras

        tf = peer_keras._tf()
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        # steps are timed end to end inside an epoch: 3 or more intervals per epoch
        steps_per_epoch = max(4, 64 // args.batch_size)
        timing, params = peer_keras.time_fit(args.model, args.batch_size, args.image_size,
                                             args.channels, repeats=args.repeats,
                                             steps_per_epoch=steps_per_epoch)
        setup = (f"{peer_keras.version()}, {args.threads} intra-op threads, model.fit on a "
                 f"NumPy array, timed step to step inside epochs of {steps_per_epoch}, "
                 f"steps_per_execution=1, jit_compile=auto, Adam")
    return {"median_s": timing.median_s, "compile_s": timing.compile_s,
            "repeats": timing.repeats, "params": int(params), "setup": setup}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_process")
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("model", choices=("cnn_tiny", "cnn_small", "unet", "nafnet",
                                          "shadowformer"))
    parser.add_argument("batch_size", type=int)
    parser.add_argument("image_size", type=int)
    parser.add_argument("channels", type=int)
    parser.add_argument("--threads", type=int, default=jax_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--options", type=json.loads, default={},
                        help="the model's own options, JSON (nafnet, shadowformer)")
    args = parser.parse_args(argv)
    print(json.dumps(_measure(args)), flush=True)


if __name__ == "__main__":
    main()
