"""Evaluation over a whole split: padded batches, sums on the device, metrics on the host."""

import dataclasses
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


def evaluate_workdir(workdir, split="test", *, model_file=None, data_source=None, white="D65",
                     eval_size=None):
    """Evaluates the newest checkpoint of the run in `workdir`, or the exported `model_file`.

    Returns (step, metrics, config); step is None for an exported model; config is the run's,
    with `data.source` the one evaluated.
    data_source: evaluate on this source (e.g. 'istd:/data/ISTD_Dataset') instead of the run's
    own; white, eval_size: the removal task's Lab white point and extra S×S protocol (ignored
    by other tasks).
    """
    variables = None
    if model_file:
        from jaxshadow.export import load_exported
        _, variables, config = load_exported(model_file)
    else:
        config = load_run_config(workdir)
    if data_source:
        config.data.source = data_source
        config.data.crop = 0  # training crops are for the run's own images; not used here
        config.data.dead_leaves = 0.0  # training images only, and for synthetic data only
    run = build_run(config)
    if config.task == "removal":
        run.task = dataclasses.replace(run.task, white=white, eval_size=eval_size)
    if variables is None:
        state, step = restore_latest(workdir, config.checkpoint, run.abstract_state,
                                     run.state_sharding)
    else:
        state, step = state_holding(run, variables), None
    eval_step = steps_lib.make_eval_step(run.model, run.task, run.mesh, run.state_sharding)
    return step, evaluate_split(run, eval_step, state, split), config


def state_holding(run, variables):
    """A TrainState on the run's shardings whose evaluation parameters are `variables`
    ({'params', <other collections>}); the optimizer slots, never read by evaluation, are zeros."""
    zeros = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), run.abstract_state)
    params = variables["params"]
    state = zeros.replace(params=params,
                          model_state={k: v for k, v in variables.items() if k != "params"},
                          ema_params=None if zeros.ema_params is None else params)
    return jax.device_put(state, run.state_sharding)
