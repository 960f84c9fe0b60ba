"""The training loop: one function, read top to bottom.

    config -> Run (mesh, data, model, optimizer) -> resume, fine-tune or initialise the state
      -> for each step: host batch -> global array -> train_step
           every log_every: metrics.jsonl / TensorBoard / progress
           every eval_every: evaluation over the test split
           every checkpoint_every, at the end, and on SIGTERM/SIGINT: an asynchronous Orbax save
      a non-finite loss or gradient stops the run before it is saved (unless
      optimizer.skip_nonfinite, where optax skips those updates and `skipped_updates` counts them)

A run killed at any moment and started again logs, from its last checkpoint on, exactly the
losses the uninterrupted run logs: the batch and the randomness of step s are functions of s.
"""

import os
import sys
import time

import jax
import optax

from jaxshadow import config as config_lib
from jaxshadow import metric_names as names
from jaxshadow.data.pipeline import train_batches
from jaxshadow.errors import UserError
from jaxshadow.files import atomic_write
from jaxshadow.warn import warn
from jaxshadow.train import resume
from jaxshadow.train import steps as steps_lib
from jaxshadow.train.evaluate import evaluate_split
from jaxshadow.train.prefetch import DevicePrefetch
from jaxshadow.train.nonfinite import NonFiniteWatch
from jaxshadow.train.preemption import StopRequest
from jaxshadow.train.report import Reporter
from jaxshadow.train.samples import SampleWriter
from jaxshadow.train.setup import build_run, prepare_workdir


def _skipped_updates(opt_state):
    """The count of updates optax.apply_if_finite skipped, from the optimizer state."""
    return int(jax.device_get(optax.tree_utils.tree_get(opt_state, "total_notfinite")))


def train(config, workdir, *, stream=None):
    """Trains (or resumes) the run described by `config` in `workdir`.

    Returns the last evaluation's metrics {'eval_<name>': value}. Returns early, after saving
    a checkpoint, when SIGTERM or SIGINT arrives. Raises UserError when the loss or the
    gradient becomes NaN or infinite (unless optimizer.skip_nonfinite).
    """
    # ------------------------------------------------------------------ setup
    run = build_run(config)  # first: a config error leaves no workdir behind
    config = run.config  # resolved from the data (e.g. the classifier's class count)
    prepare_workdir(workdir)
    is_writer = jax.process_index() == 0
    stream = stream or sys.stderr

    def warn_here(text):
        warn(text, stream)

    # ------------------------------------------- resume, fine-tune or initialise
    start = resume.start(run, workdir, warn=warn_here)
    state, start_step, checkpointer = start.state, start.step, start.checkpointer
    if is_writer:
        atomic_write(os.path.join(workdir, "config.json"), config_lib.to_json(config))

    train_step = steps_lib.make_train_step(run.model, run.task, run.tx, run.mesh,
                                           run.state_sharding,
                                           ema_decay=config.optimizer.ema_decay)
    eval_step = steps_lib.make_eval_step(run.model, run.task, run.mesh,
                                         steps_lib.eval_variables(run.state_sharding))
    reporter = Reporter(workdir, total_steps=config.steps, start_step=start_step,
                        is_writer=is_writer, stream=stream)
    if start.note:
        reporter.message(start.note)

    batches = DevicePrefetch(
        train_batches(run.source, "train", seed=config.seed, batch_size=config.batch_size,
                      start_step=start_step, num_steps=config.steps, reader=config.data.reader,
                      workers=config.data.workers, process_index=jax.process_index(), process_count=jax.process_count()),
        run.mesh, size=config.data.device_prefetch)

    meta = {"config": config.to_dict(), "input_shape": list(run.input_shape)}

    samples = (SampleWriter(run, workdir, config.num_samples)
               if config.task == "removal" and config.num_samples else None)

    # ------------------------------------------------------------------ loop
    stop = StopRequest()
    watch = None if config.optimizer.skip_nonfinite else NonFiniteWatch()
    traces_before = steps_lib.trace_counts["train_step"]
    eval_metrics, save_ms = {}, None
    last_time, last_step = None, start_step
    loop_start = time.monotonic()
    try:
        for step in range(start_step, config.steps):
            batch = next(batches)
            state, metrics = train_step(state, batch)
            done = step + 1
            if watch:
                watch.add(done, metrics)

            if step == start_step:  # the first step compiles: timed apart from throughput
                jax.block_until_ready(state)
                reporter.message(f"first step (compile and run) took "
                                 f"{time.monotonic() - loop_start:.1f}s")
                last_time, last_step = time.monotonic(), done
                batches.take_wait_seconds()
            elif steps_lib.trace_counts["train_step"] - traces_before > 1:
                raise RuntimeError(f"train_step was compiled again at step {done}: an input "
                                   f"changed shape, dtype or sharding")

            is_log = done % config.log_every == 0 or done == config.steps
            stopping = stop.after(done, sync=is_log)
            is_save = stopping or done % config.checkpoint_every == 0 or done == config.steps
            bad = watch.first_bad() if watch and (is_log or is_save) else None
            if bad:
                checkpointer.wait()
                last_good = checkpointer.latest_step()
                kept = (f"the last good checkpoint, {checkpointer.path(last_good)}, is kept"
                        if last_good is not None else "no checkpoint was saved")
                raise UserError(f"non-finite loss at step {bad[0]} (loss={bad[1]:.4g}, "
                                f"grad_norm={bad[2]:.4g}); stopped; {kept}; lower "
                                f"optimizer.learning_rate or set optimizer.skip_nonfinite=True")

            if is_log:
                metrics = jax.device_get(metrics)
                now = time.monotonic()
                images = (done - last_step) * config.batch_size
                scalars = {k: float(v) for k, v in metrics.items()}
                scalars["learning_rate"] = float(run.schedule(
                    step // config.optimizer.accumulate_steps))
                waited = batches.take_wait_seconds()
                if done > last_step:
                    scalars["images_per_sec"] = images / (now - last_time)
                    scalars["data_wait_frac"] = min(1.0, waited / (now - last_time))
                if config.optimizer.skip_nonfinite:
                    scalars["skipped_updates"] = _skipped_updates(state.opt_state)
                if save_ms is not None:
                    scalars["checkpoint_save_ms"], save_ms = save_ms, None
                last_time, last_step = now, done
                reporter.log(done, scalars)

            evaluated = done % config.eval_every == 0 or done == config.steps
            if evaluated:
                eval_metrics = {names.EVAL_PREFIX + k: v for k, v in
                                evaluate_split(run, eval_step,
                                               steps_lib.eval_variables(state)).items()}
                reporter.log(done, eval_metrics)
                if samples:
                    samples.write(steps_lib.eval_variables(state), done, reporter)
                last_time = time.monotonic()  # evaluation time is not training throughput
                batches.take_wait_seconds()

            if is_save:
                save_start = time.monotonic()
                checkpointer.save(done, state, {**meta, "step": done},
                                  metrics=eval_metrics if evaluated else None)
                save_ms = 1000 * (time.monotonic() - save_start)
            reporter.advance(done)

            if stopping:
                checkpointer.wait()
                reporter.message(f"stopped by {stop.signal_name} after step {done}; saved "
                                 f"{checkpointer.path(done)}")
                break
    finally:
        # ------------------------------------------------------------------ end
        stop.close()
        checkpointer.close()
        reporter.close()
    return eval_metrics
