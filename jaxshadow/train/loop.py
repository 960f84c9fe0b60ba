"""The training loop: one function, read top to bottom.

    config -> Run (mesh, data, model, optimizer) -> restore or initialise the state
      -> for each step: host batch -> global array -> train_step
           every log_every: metrics.jsonl / TensorBoard / progress
           every eval_every: evaluation over the test split
           every checkpoint_every and at the end: an asynchronous Orbax save
"""

import os
import time

import jax

from jaxshadow import config as config_lib
from jaxshadow.data.pipeline import train_batches
from jaxshadow.train import steps as steps_lib
from jaxshadow.train.checkpoints import Checkpointer, abstract_like
from jaxshadow.train.evaluate import evaluate_split
from jaxshadow.train.mesh import global_batch
from jaxshadow.train.report import Reporter
from jaxshadow.train.setup import build_run, prepare_workdir


def _write_config(workdir, config):
    path = os.path.join(workdir, "config.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(config_lib.to_json(config))
    os.replace(tmp, path)


def train(config, workdir, *, stream=None):
    """Trains (or resumes) the run described by `config` in `workdir`.

    Returns the last evaluation's metrics {'eval_<name>': value}.
    """
    # ------------------------------------------------------------------ setup
    prepare_workdir(workdir)
    run = build_run(config)
    is_writer = jax.process_index() == 0
    if is_writer:
        _write_config(workdir, config)
    checkpointer = Checkpointer(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                config.checkpoint)

    # ------------------------------------------------------- restore or init
    start_step = checkpointer.latest_step() or 0
    if start_step:
        state, _ = checkpointer.restore(
            start_step, abstract_like(run.abstract_state, run.state_sharding))
    else:
        state = jax.jit(run.init_state, out_shardings=run.state_sharding)()

    train_step = steps_lib.make_train_step(run.model, run.task, run.tx, run.mesh,
                                           run.state_sharding,
                                           ema_decay=config.optimizer.ema_decay)
    eval_step = steps_lib.make_eval_step(run.model, run.task, run.mesh, run.state_sharding)
    reporter = Reporter(workdir, total_steps=config.steps, start_step=start_step,
                        is_writer=is_writer, stream=stream)
    if start_step:
        reporter.message(f"resumed from {workdir}/checkpoints/{start_step}")

    batches = train_batches(run.source, "train", seed=config.seed,
                            batch_size=config.batch_size, start_step=start_step,
                            num_steps=config.steps, reader=config.data.reader,
                            process_index=jax.process_index(),
                            process_count=jax.process_count())

    # ------------------------------------------------------------------ loop
    traces_before = steps_lib.trace_counts["train_step"]
    eval_metrics = {}
    last_time, last_step = None, start_step
    loop_start = time.monotonic()
    for step in range(start_step, config.steps):
        batch = global_batch(next(batches), run.mesh)
        state, metrics = train_step(state, batch)
        done = step + 1

        if step == start_step:  # the first step compiles: timed apart from throughput
            jax.block_until_ready(state)
            reporter.message(f"first step (compile and run) took "
                             f"{time.monotonic() - loop_start:.1f}s")
            last_time, last_step = time.monotonic(), done
        elif steps_lib.trace_counts["train_step"] - traces_before > 1:
            raise RuntimeError(f"train_step was compiled again at step {done}: an input changed "
                               f"shape, dtype or sharding")

        if done % config.log_every == 0 or done == config.steps:
            metrics = jax.device_get(metrics)
            now = time.monotonic()
            images = (done - last_step) * config.batch_size
            scalars = {k: float(v) for k, v in metrics.items()}
            scalars["learning_rate"] = float(run.schedule(
                step // config.optimizer.accumulate_steps))
            if done > last_step:
                scalars["images_per_sec"] = images / (now - last_time)
            last_time, last_step = now, done
            reporter.log(done, scalars)

        if done % config.eval_every == 0 or done == config.steps:
            eval_metrics = {f"eval_{k}": v for k, v in
                            evaluate_split(run, eval_step, state).items()}
            reporter.log(done, eval_metrics)
            last_time = time.monotonic()  # evaluation time is not training throughput

        if done % config.checkpoint_every == 0 or done == config.steps:
            checkpointer.save(done, state, {"step": done, "config": config.to_dict()},
                              metrics=eval_metrics or None)
        reporter.advance(done)

    # ------------------------------------------------------------------- end
    checkpointer.close()
    reporter.close()
    return eval_metrics
