"""Where a run starts: its newest readable checkpoint, a pretrained run's parameters, or step 0.

    resume           WORKDIR/checkpoints has a checkpoint: continue from the newest readable one
                     (damaged newer ones are reported and moved aside, see checkpoints.py); the
                     config may change only harmlessly (see compat.py)
    params only      checkpoint.restore_params_only=True and the newest checkpoint was written by a
                     run without it: that run's files (checkpoints/, metrics.jsonl, config.json,
                     tb/) move to WORKDIR/pretrained/ (nothing is deleted), and a new run starts
                     at step 0 with its parameters (and batch statistics) and a fresh optimizer.
                     Restarting such a fine-tuning run resumes it like any other run.
    fresh            no checkpoint: the initial state
"""

import dataclasses
import os
import shutil
from typing import Any

import jax

from jaxshadow.errors import UserError
from jaxshadow.train import compat
from jaxshadow.train.checkpoints import Checkpointer, abstract_like, shapes_of
from jaxshadow.train.mesh import replicated

PRETRAINED = "pretrained"
RUN_FILES = ("checkpoints", "metrics.jsonl", "config.json", "tb")


@dataclasses.dataclass
class Start:
    state: Any              # TrainState on run.state_sharding
    step: int               # the step the loop starts at
    checkpointer: Any       # Checkpointer of WORKDIR/checkpoints, open
    note: str = ""          # what happened, for the user ('' for a fresh run)


def _checkpoint_dir(workdir):
    return os.path.join(os.path.abspath(workdir), "checkpoints")


def _archives(workdir):
    names = [n for n in os.listdir(workdir) if n == PRETRAINED or n.startswith(PRETRAINED + "-")]
    return sorted(names, key=lambda n: int(n.rpartition("-")[2]) if "-" in n else 1)


def _archive_run(workdir):
    """Moves the run's files into a new WORKDIR/pretrained[-n]/; returns its path."""
    n = len(_archives(workdir)) + 1
    target = os.path.join(workdir, PRETRAINED if n == 1 else f"{PRETRAINED}-{n}")
    if jax.process_index() == 0:
        os.makedirs(target)
        for name in RUN_FILES:
            if os.path.exists(os.path.join(workdir, name)):
                shutil.move(os.path.join(workdir, name), os.path.join(target, name))
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("jaxshadow_archive_run")
    return target


def _params_state(run, saved, path, saved_config):
    """The initial state with the parameters (and model state, when it fits) of `saved`."""
    abstract = run.abstract_state
    compat.check_params_fit(path, saved_config, run.config, shapes_of(saved["params"]),
                            shapes_of(abstract.params))
    state = run.initial_state()
    params = jax.tree.unflatten(jax.tree.structure(abstract.params),
                                jax.tree.leaves(saved["params"]))
    model_state = state.model_state
    if shapes_of(saved.get("model_state") or {}) == shapes_of(abstract.model_state):
        model_state = jax.tree.unflatten(jax.tree.structure(abstract.model_state),
                                         jax.tree.leaves(saved.get("model_state") or {}))
    ema = None if state.ema_params is None else jax.tree.map(lambda x: x.copy(), params)
    state = state.replace(params=params, model_state=model_state, ema_params=ema)
    return jax.device_put(state, run.state_sharding)  # saved leaves come replicated


def start(run, workdir, *, warn):
    """Restores or initialises the run's state. Raises UserError for an incompatible workdir."""
    config = run.config
    params_only = config.checkpoint.restore_params_only
    checkpointer = Checkpointer(_checkpoint_dir(workdir), config.checkpoint, cleanup=True)
    target = abstract_like(run.abstract_state, run.state_sharding)
    expected = shapes_of(run.abstract_state)

    def restore(step):
        meta = checkpointer.read_meta(step)
        saved_config = meta.get("config", {})
        path = checkpointer.path(step)
        if params_only and not saved_config.get("checkpoint", {}).get("restore_params_only"):
            saved, _ = checkpointer.restore_as_saved(step, replicated(run.mesh))
            return "params", _params_state(run, saved, path, saved_config), path
        compat.check_resumable(path, saved_config, config, checkpointer.saved_shapes(step),
                               expected)
        return "state", checkpointer.restore(step, target)[0], path

    try:
        restored, step = checkpointer.newest_readable(restore, warn=warn)
    except BaseException:
        checkpointer.close()
        raise
    if restored is not None:
        kind, state, path = restored
        if kind == "state":
            return Start(state, step, checkpointer, f"resumed from {path}")
        checkpointer.close()
        archive = _archive_run(workdir)
        return Start(state, 0, Checkpointer(_checkpoint_dir(workdir), config.checkpoint),
                     f"fine-tuning from the parameters of {path} (that run moved to {archive})")

    if params_only:  # a fine-tuning run stopped before its first checkpoint: its source again
        archives = _archives(workdir)
        if not archives:
            checkpointer.close()
            raise UserError(f"checkpoint.restore_params_only=True but {workdir} has no "
                            f"checkpoint to take parameters from")
        source = Checkpointer(_checkpoint_dir(os.path.join(workdir, archives[-1])),
                              config.checkpoint)
        try:
            def restore_params(step):
                meta = source.read_meta(step)
                saved, _ = source.restore_as_saved(step, replicated(run.mesh))
                return _params_state(run, saved, source.path(step), meta.get("config", {}))

            state, step = source.newest_readable(restore_params, warn=warn, set_aside=False)
        finally:
            source.close()
        if state is None:
            checkpointer.close()
            raise UserError(f"no readable checkpoint in {os.path.join(workdir, archives[-1])}")
        return Start(state, 0, checkpointer,
                     f"fine-tuning from the parameters of {source.path(step)}")

    state = run.initial_state()
    return Start(state, 0, checkpointer)
