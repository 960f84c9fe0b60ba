"""Orbax checkpoints of the train state, in WORKDIR/checkpoints/<step>/.

Each checkpoint is an `args.Composite` of the TrainState (`StandardSave`, every process writes its
shards) and JSON metadata (`JsonSave`: the config and the data position). Saving is asynchronous
and atomic: Orbax writes into a temporary directory and renames it when complete, so a
half-written checkpoint is never listed. Kept: the latest `keep_latest`, plus the best
`keep_best` by `best_metric` when configured.
"""

import os

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jaxshadow.errors import UserError


def _preservation(ckpt):
    keep = [policies.LatestN(n=max(1, ckpt.keep_latest))]
    if ckpt.keep_best and ckpt.best_metric:
        metric = ckpt.best_metric
        keep.append(policies.BestN(get_metric_fn=lambda m: m[metric], n=ckpt.keep_best,
                                   reverse=ckpt.best_mode == "min",
                                   keep_checkpoints_without_metrics=False))
    return policies.AnyPreservationPolicy(keep)


class Checkpointer:
    """Saves and restores (TrainState, metadata) pairs under `directory`."""

    def __init__(self, directory, ckpt_config, *, async_save=True):
        options = ocp.CheckpointManagerOptions(
            preservation_policy=_preservation(ckpt_config),
            enable_async_checkpointing=async_save,
            create=True,
        )
        self.manager = ocp.CheckpointManager(directory, options=options,
                                             item_names=("state", "meta"))

    def latest_step(self):
        """The newest complete checkpoint's step, or None."""
        return self.manager.latest_step()

    def all_steps(self):
        return list(self.manager.all_steps())

    def save(self, step, state, meta, metrics=None):
        """Starts saving `state` and the JSON-able dict `meta` at `step`; returns at once."""
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  meta=ocp.args.JsonSave(meta))
        return self.manager.save(step, args=args, metrics=metrics, force=True)

    def restore(self, step, abstract_state):
        """Restores (state, meta) at `step` onto the shardings of `abstract_state`.

        abstract_state: a TrainState of jax.ShapeDtypeStruct with `sharding` set, so each
        device reads only its own shards (works across a change of mesh).
        """
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                  meta=ocp.args.JsonRestore())
        restored = self.manager.restore(step, args=args)
        return restored["state"], restored["meta"]

    def wait(self):
        """Blocks until any save in flight is complete."""
        self.manager.wait_until_finished()

    def close(self):
        self.manager.wait_until_finished()
        self.manager.close()


def restore_latest(workdir, ckpt_config, abstract_state, shardings):
    """(state, step) of the newest checkpoint in WORKDIR/checkpoints, placed on `shardings`.

    Raises UserError when there is none.
    """
    checkpointer = Checkpointer(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                ckpt_config)
    try:
        step = checkpointer.latest_step()
        if step is None:
            raise UserError(f"no checkpoint in {workdir}/checkpoints")
        state, _ = checkpointer.restore(step, abstract_like(abstract_state, shardings))
    finally:
        checkpointer.close()
    return state, step


def abstract_like(tree, shardings):
    """ShapeDtypeStructs with the given shardings, for restoring onto a mesh."""
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                        tree, shardings)
