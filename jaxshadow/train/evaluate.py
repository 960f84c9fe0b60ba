"""Evaluation over a whole split: padded batches, sums on the device, metrics on the host."""

import dataclasses

import jax
import numpy as np

from jaxshadow.data.pipeline import eval_batches
from jaxshadow.loading import load_trained
from jaxshadow.train import steps as steps_lib
from jaxshadow.train.mesh import global_batch
from jaxshadow.train.setup import build_run


def evaluate_split(run, eval_step, variables, split="test"):
    """Runs `eval_step` with the model's `variables` over `split`; the task's summary metrics
    (name -> float)."""
    totals = None
    batches = eval_batches(run.source, split, batch_size=run.eval_batch_size,
                           process_index=jax.process_index(),
                           process_count=jax.process_count())
    for batch in batches:
        sums = jax.device_get(eval_step(variables, global_batch(batch, run.mesh)))
        sums = {k: np.float64(v) for k, v in sums.items()}
        totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
    return run.task.summarize(totals)


def evaluate_workdir(workdir, split="test", *, model_file=None, data_source=None, white="D65",
                     eval_size=None):
    """Evaluates the newest checkpoint of the run in `workdir`, or the exported `model_file`.

    Returns (step, metrics, config); config is the run's, with `data.source` the one evaluated.
    data_source: evaluate on this source (e.g. 'istd:/data/ISTD_Dataset') instead of the run's
    own; white, eval_size: the removal task's Lab white point and extra S×S protocol (ignored
    by other tasks).
    """
    trained = load_trained(model_file or workdir)
    config = trained.config
    if data_source:
        config.data.source = data_source
        config.data.crop = 0  # training crops are for the run's own images; not used here
        config.data.dead_leaves = 0.0  # training images only, and for synthetic data only
    run = build_run(config)
    if config.task == "removal":
        run.task = dataclasses.replace(run.task, white=white, eval_size=eval_size)
    sharding = steps_lib.eval_variables(run.state_sharding)
    variables = jax.device_put(trained.variables, sharding)
    eval_step = steps_lib.make_eval_step(run.model, run.task, run.mesh, sharding)
    return trained.step, evaluate_split(run, eval_step, variables, split), config
