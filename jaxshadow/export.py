"""A trained model as one file: the variables to run it and the config to rebuild it.

    export_workdir(workdir, out_path) -> summary dict     (the `jaxshadow export` command)
    export_model(path, out_path) -> summary dict          (path: a workdir or an export file)
    load_exported(path) -> (model, variables, config)
    read_export(path) -> jaxshadow.loading.Trained        (with the step and input shape)

The file is Flax msgpack (floating-point arrays float32, or float16 with `--dtype float16`) (`flax.serialization.msgpack_serialize`: plain data and raw arrays,
nothing executable) of

    {"format": "jaxshadow-export", "version": 1, "step": int, "config": <config JSON text>,
     "input_shape": [H, W, C] (one example, as the model reads it),
     "variables": {"params": <EMA params when the run kept an EMA, else params>,
                   <other collections, e.g. "batch_stats">}}

Only the newest readable checkpoint's evaluation variables are written: no optimizer state.
"""

import json
import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError
from jaxshadow.files import atomic_write

FORMAT = "jaxshadow-export"
VERSION = 1


STORAGE_DTYPES = ("float32", "float16")


def export_workdir(workdir, out_path, dtype="float32", detector=None):
    """Writes the newest readable checkpoint of `workdir` to `out_path` (atomically).

    `dtype`: how floating-point arrays are stored, "float32" (exact) or "float16" (half the
    size; `read_export` returns float32 again, each value within 2^-11 relative).
    `detector`: a workdir or export file of a `shadow_detector` whose parameters replace the
    detector of a `joint` model (`jaxshadow.detector_swap`).
    Returns {'path', 'step', 'model', 'num_params', 'bytes'}. Raises UserError for a workdir
    without checkpoints or an output path that cannot be written.
    """
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise UserError(f"no checkpoints in {workdir} (is it a jaxshadow workdir?)")
    return export_model(workdir, out_path, dtype=dtype, detector=detector)


def export_model(path, out_path, dtype="float32", detector=None):
    """`export_workdir` for `path` a workdir or an export file (to store it in another dtype
    or give it another detector)."""
    if dtype not in STORAGE_DTYPES:
        raise UserError(f"export dtype must be one of {STORAGE_DTYPES}, got '{dtype}'")
    from jaxshadow.loading import load_trained

    if os.path.isdir(out_path):
        raise UserError(f"--out {out_path} is a directory; give a file name")
    trained = load_trained(path)
    config, variables = trained.config, trained.variables
    if detector:
        from jaxshadow.detector_swap import with_detector

        config, variables = with_detector(trained, load_trained(detector), joint_name=path,
                                          detector_name=detector)
    payload = {
        "format": FORMAT, "version": VERSION, "step": int(trained.step),
        "config": config_lib.to_json(config),
        "input_shape": list(trained.input_shape),
        "variables": jax.tree.map(lambda x: _stored(np.asarray(x), dtype),
                                  jax.device_get(variables)),
    }
    data = flax.serialization.msgpack_serialize(payload)
    atomic_write(out_path, data)
    return {"path": out_path, "step": int(trained.step), "model": config.model.name,
            "num_params": sum(int(np.size(x)) for x in jax.tree.leaves(variables["params"])),
            "bytes": len(data)}


def _stored(x, dtype):
    return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x


def read_export(path):
    """Reads a file written by `export_workdir` -> `jaxshadow.loading.Trained`.

    Raises UserError naming `path` for a missing, truncated, corrupted or foreign file.
    """
    from jaxshadow.loading import Trained
    from jaxshadow.train.checkpoints import shapes_of
    from jaxshadow.train.setup import build_model

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from e
    try:
        payload = flax.serialization.msgpack_restore(data)
    except Exception as e:  # msgpack raises many types for bad bytes
        raise UserError(f"{path} is not a jaxshadow export (unreadable: "
                        f"{type(e).__name__})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a jaxshadow export")
    if payload.get("version") != VERSION:
        raise UserError(f"{path} is a version {payload.get('version')} export; this jaxshadow "
                        f"reads version {VERSION}")
    try:
        config = config_lib.validate(config_lib.from_json(payload["config"]))
        input_shape = tuple(int(n) for n in payload["input_shape"])
        variables = payload["variables"]
        step = int(payload["step"])
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: corrupted export ({type(e).__name__}: {e})") from e
    model = build_model(config.model, config.dtype)
    expected = jax.eval_shape(lambda: model.init(jax.random.key(0),
                                                 jnp.zeros((1, *input_shape)), train=False))
    try:
        variables = jax.tree.map(lambda x: _stored(np.asarray(x), "float32"), variables)
        fits = shapes_of(variables) == shapes_of(dict(expected))
    except (AttributeError, TypeError):  # a leaf that is not an array
        fits = False
    if not isinstance(variables, dict) or not fits:
        raise UserError(f"{path}: corrupted export (its arrays do not match the model "
                        f"'{config.model.name}')")
    # device_put, not jnp.asarray: jax 0.10 compiles a small program per array shape for the
    # latter (32 shapes, about 1.5 s of every `predict` start with the shipped model)
    return Trained(model, jax.device_put(variables), config, step, input_shape)


def load_exported(path):
    """(model, variables, config) of the export file at `path` (see `read_export`).

    model: the flax Module rebuilt from the config; variables: {'params': ..., <other
    collections>} of jax arrays, ready for `model.apply(variables, images, train=False)` with
    images (N, H, W, C) like the training inputs (float32 in [0, 1]); config: the training
    run's validated ConfigDict (task, model, data, ...).
    """
    trained = read_export(path)
    return trained.model, trained.variables, trained.config
