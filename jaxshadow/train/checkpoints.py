"""Orbax checkpoints of the train state, in WORKDIR/checkpoints/<step>/.

Each checkpoint is an `args.Composite` of the TrainState (`StandardSave`, every process writes its
shards) and JSON metadata (`JsonSave`: the config, the step and a fingerprint of the state).

Safety, in the order Orbax (0.12) does things:
  * a save writes into `<step>.orbax-checkpoint-tmp-*` and renames it to `<step>` when every
    item is committed, so a half-written checkpoint is never listed; leftovers of a killed save
    are removed when the training Checkpointer opens (`cleanup_tmp_directories`).
  * old checkpoints are deleted by the save's finalize thread only after the new checkpoint's
    commit has completed (`CheckpointManager._finalize`: wait for commit, then delete), so a
    good checkpoint is never deleted before a newer one is complete.
  * kept: the latest `keep_latest`, plus the best `keep_best` by `best_metric`; the metrics are
    written into each checkpoint so the best survive a restart.
  * a checkpoint that cannot be read (a missing or truncated file, garbage, a fingerprint that
    does not match) is reported, moved to WORKDIR/damaged_checkpoints/ (never deleted), and
    the previous one is used; moving it also frees its step for a later save, which Orbax would
    otherwise refuse (`StepAlreadyExistsError`).
"""

import logging
import os
import shutil
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as policies

from jaxshadow.errors import UserError
from jaxshadow.warn import warn
from jaxshadow.train.compat import shape_differences


class DamagedCheckpoint(Exception):
    """A checkpoint whose files cannot be read back as they were written."""


def _preservation(ckpt):
    keep = [policies.LatestN(n=max(1, ckpt.keep_latest))]
    if ckpt.keep_best and ckpt.best_metric:
        metric = ckpt.best_metric
        keep.append(policies.BestN(get_metric_fn=lambda m: m[metric], n=ckpt.keep_best,
                                   reverse=ckpt.best_mode == "min",
                                   keep_checkpoints_without_metrics=False))
    return policies.AnyPreservationPolicy(keep)


def _as_bits(x):
    """An array's raw bits as uint32 (exact, so sums are independent of reduction order)."""
    if x.dtype == jnp.bool_:
        return x.astype(jnp.uint32)
    if x.dtype.itemsize == 2:
        return jax.lax.bitcast_convert_type(x, jnp.uint16).astype(jnp.uint32)
    return jax.lax.bitcast_convert_type(x, jnp.uint32)


@jax.jit
def _fingerprint(tree):
    total = jnp.zeros((), jnp.uint32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        weight = jnp.uint32(zlib.crc32(leaf_name(path).encode()) | 1)
        total = total + jnp.sum(_as_bits(leaf), dtype=jnp.uint32) * weight
    return total


def state_fingerprint(tree):
    """A 32-bit checksum of every bit of every array in `tree`, keyed by leaf name: the same
    for a TrainState and its nested-dict form, on any mesh."""
    return int(jax.device_get(_fingerprint(tree)))


def leaf_name(path):
    """A tree path as dotted names, e.g. 'opt_state.0.mu.conv1.kernel' (Orbax's naming)."""
    parts = []
    for key in path:
        for attr in ("name", "key", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return ".".join(parts)


def shapes_of(tree):
    """{dotted leaf name: (shape, dtype name)} of arrays, ShapeDtypeStructs or Orbax metadata."""
    is_leaf = lambda x: isinstance(x, ocp.metadata.ArrayMetadata)
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_leaf)[0]
    return {leaf_name(path): (tuple(x.shape), np.dtype(x.dtype).name) for path, x in leaves}


def _short(error):
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


class _NoMissingMetricsWarning(logging.Filter):
    """Drops Orbax's warning for a save without metrics while a best metric is tracked: the
    checkpoints between two evaluations have none by design (BestN keeps the evaluated ones)."""

    def filter(self, record):
        return "did not provide metrics" not in record.getMessage()


class Checkpointer:
    """Saves and restores (TrainState, metadata) pairs under `directory`.

    cleanup: remove temporary directories left by killed saves (only the process that trains
    in `directory` may do this; readers such as `eval` must not).
    """

    def __init__(self, directory, ckpt_config, *, async_save=True, cleanup=False):
        self.directory = str(directory)
        best = ckpt_config.best_metric if ckpt_config.keep_best else ""
        options = ocp.CheckpointManagerOptions(
            preservation_policy=_preservation(ckpt_config),
            best_fn=(lambda m: m[best]) if best else None,  # persists metrics for BestN
            best_mode=ckpt_config.best_mode,
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=cleanup,
            create=True,
        )
        handlers = {"state": ocp.StandardCheckpointHandler(),
                    "meta": ocp.JsonCheckpointHandler()}
        self.manager = ocp.CheckpointManager(self.directory, options=options,
                                             item_handlers=handlers)

    def path(self, step):
        return os.path.join(self.directory, str(step))

    def latest_step(self):
        """The newest complete checkpoint's step, or None."""
        return self.manager.latest_step()

    def all_steps(self):
        return sorted(self.manager.all_steps())

    def save(self, step, state, meta, metrics=None):
        """Starts saving `state` and the JSON-able dict `meta` at `step`; returns once the
        arrays are copied off the devices (the writing continues in the background)."""
        meta = {**meta, "fingerprint": state_fingerprint(state)}
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  meta=ocp.args.JsonSave(meta))
        absl_logger = logging.getLogger("absl")
        quiet = _NoMissingMetricsWarning()
        absl_logger.addFilter(quiet)
        try:
            return self.manager.save(step, args=args, metrics=metrics, force=True)
        finally:
            absl_logger.removeFilter(quiet)

    def read_meta(self, step):
        """The JSON metadata saved at `step`. Raises DamagedCheckpoint when unreadable."""
        try:
            return self.manager.restore(step, args=ocp.args.Composite(
                meta=ocp.args.JsonRestore()))["meta"]
        except Exception as e:  # any unreadable file is damage, whatever Orbax raises
            raise DamagedCheckpoint(f"{self.path(step)}: {_short(e)}") from e

    def saved_shapes(self, step):
        """{leaf name: (shape, dtype)} of the state saved at `step`, from its metadata."""
        try:
            tree = self.manager.item_metadata(step)["state"]
            return shapes_of(tree.tree if hasattr(tree, "tree") else tree)
        except Exception as e:
            raise DamagedCheckpoint(f"{self.path(step)}: {_short(e)}") from e

    def restore(self, step, abstract_state):
        """Restores (state, meta) at `step` onto the shardings of `abstract_state`.

        abstract_state: a TrainState of jax.ShapeDtypeStruct with `sharding` set, so each
        device reads only its own shards (works across a change of mesh). Raises
        DamagedCheckpoint when the files cannot be read or do not match their fingerprint.
        """
        meta = self.read_meta(step)
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state))
        try:
            state = self.manager.restore(step, args=args)["state"]
        except Exception as e:
            raise DamagedCheckpoint(f"{self.path(step)}: {_short(e)}") from e
        expected = meta.get("fingerprint")
        if expected is not None and state_fingerprint(state) != expected:
            raise DamagedCheckpoint(f"{self.path(step)}: the arrays read back differ from "
                                    f"those saved (fingerprint mismatch)")
        return state, meta

    def newest_readable(self, restore_fn, *, warn, set_aside=True):
        """(restore_fn(step), step) for the newest step that restore_fn can read, else
        (None, None). Each damaged checkpoint is reported through `warn` and, with
        `set_aside`, moved to ../damaged_checkpoints/. UserErrors pass through."""
        for step in reversed(self.all_steps()):
            try:
                result, error = restore_fn(step), None
            except DamagedCheckpoint as e:
                result, error = None, e
            if not _all_processes_ok(error is None):
                error = error or DamagedCheckpoint(f"{self.path(step)}: unreadable on another "
                                                   f"process")
            if error is None:
                return result, step
            where = self._set_aside(step) if set_aside else None
            warn(f"checkpoint {error} -- "
                 + (f"moved to {where}; " if where else "") + "trying the previous one")
        return None, None

    def _set_aside(self, step):
        """Moves checkpoint `step` to WORKDIR/damaged_checkpoints/; returns the new path."""
        self.manager.wait_until_finished()
        target_dir = os.path.join(os.path.dirname(self.directory.rstrip("/")),
                                  "damaged_checkpoints")
        target = os.path.join(target_dir, str(step))
        if jax.process_index() == 0:
            os.makedirs(target_dir, exist_ok=True)
            n = 1
            while os.path.exists(target):
                n += 1
                target = os.path.join(target_dir, f"{step}-{n}")
            shutil.move(self.path(step), target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"jaxshadow_set_aside_{step}")
        self.manager.reload()
        return target

    def wait(self):
        """Blocks until any save in flight is complete."""
        self.manager.wait_until_finished()

    def close(self):
        self.manager.wait_until_finished()
        self.manager.close()


def _all_processes_ok(ok):
    if jax.process_count() == 1:
        return ok
    return bool(multihost_utils.process_allgather(np.int32(ok)).min())


def restore_latest(workdir, ckpt_config, target_for, *, warn=warn):
    """(state, meta, step) of the newest readable checkpoint in WORKDIR/checkpoints.

    target_for(meta) -> the TrainState of ShapeDtypeStruct (shardings set, see `abstract_like`)
    to restore onto, from that checkpoint's metadata (its config and input shape).
    A damaged newer checkpoint is reported and skipped (left in place: readers move nothing).
    Raises UserError when there is none, or when the saved arrays do not fit the target.
    """
    checkpointer = Checkpointer(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                ckpt_config)

    def restore(step):
        target = target_for(checkpointer.read_meta(step))
        saved, expected = checkpointer.saved_shapes(step), shapes_of(target)
        if saved != expected:
            raise UserError(f"{checkpointer.path(step)} does not match its run's config: "
                            f"{'; '.join(shape_differences(saved, expected))}")
        return checkpointer.restore(step, target)

    try:
        if checkpointer.latest_step() is None:
            raise UserError(f"no checkpoint in {workdir}/checkpoints")
        restored, step = checkpointer.newest_readable(restore, warn=warn, set_aside=False)
        if step is None:
            raise UserError(f"no readable checkpoint in {workdir}/checkpoints")
    finally:
        checkpointer.close()
    state, meta = restored
    return state, meta, step


def abstract_like(tree, shardings):
    """ShapeDtypeStructs with the given shardings, for restoring onto a mesh."""
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                        tree, shardings)
