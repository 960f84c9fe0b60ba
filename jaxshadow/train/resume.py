"""Where a run starts: its newest readable checkpoint, another run's parameters, or step 0.

    resume       WORKDIR/checkpoints has a checkpoint: continue from the newest readable one
                 (damaged newer ones are reported and moved aside, see checkpoints.py); the
                 config may change only harmlessly (see compat.py)
    fine-tune    no checkpoint yet and checkpoint.init_from=PATH (a workdir or an export file):
                 step 0 with PATH's parameters (its EMA when it kept one) and model state, read
                 by `jaxshadow.loading`, and a fresh optimizer. PATH is only read. Restarting a
                 fine-tuning run resumes it like any other run, from its own checkpoints.
    fresh        neither: the initial state
"""

import dataclasses
import os
from typing import Any

import jax
import numpy as np

from jaxshadow.train import compat
from jaxshadow.train.checkpoints import Checkpointer, abstract_like, shapes_of


@dataclasses.dataclass
class Start:
    state: Any              # TrainState on run.state_sharding
    step: int               # the step the loop starts at
    checkpointer: Any       # Checkpointer of WORKDIR/checkpoints, open
    note: str = ""          # what happened, for the user ('' for a fresh run)


def _checkpoint_dir(workdir):
    return os.path.join(os.path.abspath(workdir), "checkpoints")


def _fine_tune_state(run, path):
    """(the initial state with the parameters and model state of the run or export at `path`,
    where they were read from)."""
    from jaxshadow.loading import load_trained

    trained = load_trained(path)
    # an export may store float16: the train state holds its parameters in float32
    variables = jax.tree.map(
        lambda a: np.asarray(a, np.float32) if np.issubdtype(a.dtype, np.floating)
        else np.asarray(a), dict(trained.variables))
    params = variables.pop("params")
    abstract = run.abstract_state
    where = (os.path.join(path, "checkpoints", str(trained.step)) if os.path.isdir(path)
             else path)
    compat.check_params_fit(where, trained.config.to_dict(), run.config, shapes_of(params),
                            shapes_of(abstract.params))
    rebuild = lambda saved, target: jax.tree.unflatten(jax.tree.structure(target),
                                                       jax.tree.leaves(saved))
    state = run.initial_state()
    params = rebuild(params, abstract.params)
    model_state = state.model_state
    if shapes_of(variables) == shapes_of(abstract.model_state):
        model_state = rebuild(variables, abstract.model_state)
    ema = None if state.ema_params is None else jax.tree.map(np.copy, params)
    state = state.replace(params=params, model_state=model_state, ema_params=ema)
    return jax.device_put(state, run.state_sharding), where


def start(run, workdir, *, warn):
    """Restores or initialises the run's state. Raises UserError for an incompatible workdir
    or an `init_from` whose parameters do not fit."""
    config = run.config
    checkpointer = Checkpointer(_checkpoint_dir(workdir), config.checkpoint, cleanup=True)
    target = abstract_like(run.abstract_state, run.state_sharding)
    expected = shapes_of(run.abstract_state)

    def restore(step):
        meta = checkpointer.read_meta(step)
        path = checkpointer.path(step)
        compat.check_resumable(path, meta.get("config", {}), config,
                               checkpointer.saved_shapes(step), expected)
        return checkpointer.restore(step, target)[0], path

    try:
        restored, step = checkpointer.newest_readable(restore, warn=warn)
        if restored is not None:
            state, path = restored
            return Start(state, step, checkpointer, f"resumed from {path}")
        if config.checkpoint.init_from:
            state, where = _fine_tune_state(run, config.checkpoint.init_from)
            return Start(state, 0, checkpointer, f"fine-tuning from the parameters of {where}")
    except BaseException:
        checkpointer.close()
        raise
    return Start(run.initial_state(), 0, checkpointer)
