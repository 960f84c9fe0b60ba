"""Evaluation over a whole split: padded batches, sums on the device, metrics on the host."""

import os

import jax
import numpy as np

from jaxshadow import config as config_lib
from jaxshadow.data.pipeline import eval_batches
from jaxshadow.errors import UserError
from jaxshadow.train import steps as steps_lib
from jaxshadow.train.checkpoints import restore_latest
from jaxshadow.train.mesh import global_batch
from jaxshadow.train.setup import build_run


def evaluate_split(run, eval_step, state, split="test"):
    """Runs `eval_step` over `split` and returns the task's summary metrics (name -> float)."""
    totals = None
    batches = eval_batches(run.source, split, batch_size=run.eval_batch_size,
                           process_index=jax.process_index(),
                           process_count=jax.process_count())
    for batch in batches:
        sums = jax.device_get(eval_step(state, global_batch(batch, run.mesh)))
        sums = {k: np.float64(v) for k, v in sums.items()}
        totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
    return run.task.summarize(totals)


def load_run_config(workdir):
    """The resolved config a run saved in WORKDIR/config.json."""

    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: is {workdir} a jaxshadow workdir?")
    with open(path) as f:
        return config_lib.validate(config_lib.from_json(f.read()))


def evaluate_workdir(workdir, split="test"):
    """Evaluates the newest checkpoint of the run in `workdir`. Returns (step, metrics)."""
    config = load_run_config(workdir)
    run = build_run(config)
    state, step = restore_latest(workdir, config.checkpoint, run.abstract_state,
                                 run.state_sharding)
    eval_step = steps_lib.make_eval_step(run.model, run.task, run.mesh, run.state_sharding)
    return step, evaluate_split(run, eval_step, state, split)
