"""Can a checkpoint written under one config be resumed under another? Which keys differ?

A resumed run may change how long it runs, how often it logs, evaluates and saves, its devices,
batch size and learning rate. It may not change the model (`model.*`, `task`), nor anything that
changes the shapes of the saved train state (the data's image size or classes, the optimizer's
kind, EMA on/off, ...): those end with a UserError listing each difference as
`key: A in the checkpoint, B now`.
"""

import dataclasses
import json
import os

import ml_collections

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError

# Keys that never explain a change of the state's shapes (left out of the listing).
HARMLESS = ("steps", "log_every", "eval_every", "checkpoint_every", "checkpoint.", "num_devices",
            "mesh.", "num_samples", "eval_batch_size", "seed", "data.reader", "data.workers",
            "data.tfds_data_dir", "data.skip_bad_examples", "data.max_in_memory_gb",
            "data.prepared_dir")


_ABSENT = object()


def _flat(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _show(value):
    if value is _ABSENT:
        return "absent"
    if isinstance(value, (list, tuple)):
        return repr(tuple(value))
    return repr(value)



def config_differences(saved, current, keys=None):
    """['key: A in the checkpoint, B now', ...] for dotted keys whose values differ.

    saved: the config dict stored in a checkpoint; current: a ConfigDict. `keys(name) -> bool`
    selects the keys compared (all when None).
    """
    now = _flat(json.loads(config_lib.to_json(current)))
    before = _flat(json.loads(json.dumps(saved, default=str)))
    lines = []
    for key in sorted(set(now) | set(before)):
        if keys is not None and not keys(key):
            continue
        a, b = before.get(key, _ABSENT), now.get(key, _ABSENT)
        if a != b:
            lines.append(f"{key}: {_show(a)} in the checkpoint, {_show(b)} now")
    return lines


def _module_fields(model_config):
    """{option: value} of the Module a `model` config group builds, defaults included."""
    from jaxshadow.train.setup import build_model

    module = build_model(ml_collections.ConfigDict(model_config))
    return {f.name: getattr(module, f.name) for f in dataclasses.fields(module)
            if f.name not in ("parent", "name", "dtype", "param_dtype")}


def model_differences(saved, current):
    """Lines naming what differs in the model: its name, its options (defaults resolved, so
    an option set to its default is no difference) and the task."""
    lines = config_differences(saved, current, lambda k: k == "task")
    old, new = saved.get("model", {}), json.loads(config_lib.to_json(current))["model"]
    if old.get("name") != new.get("name"):
        return lines + [f"model.name: {_show(old.get('name', _ABSENT))} in the checkpoint, "
                        f"{_show(new.get('name'))} now"]
    try:
        before, now = _module_fields(old), _module_fields(new)
    except UserError:  # an option the model no longer has: compare the configs as written
        return lines + config_differences(saved, current, lambda k: k.startswith("model."))
    return lines + [f"model.{k}: {_show(before.get(k, _ABSENT))} in the checkpoint, "
                    f"{_show(now.get(k, _ABSENT))} now"
                    for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]


def _may_change_shapes(key):
    return not key.startswith(HARMLESS)


def shape_differences(saved_shapes, expected_shapes, limit=3):
    """Up to `limit` lines naming leaves that are missing, extra or of another shape/dtype."""
    lines = []
    for name in sorted(set(saved_shapes) | set(expected_shapes)):
        a, b = saved_shapes.get(name), expected_shapes.get(name)
        if a != b:
            show = lambda s: "absent" if s is None else f"{s[1]}{list(s[0])}"
            lines.append(f"{name}: {show(a)} in the checkpoint, {show(b)} now")
    more = len(lines) - limit
    return lines[:limit] + ([f"... {more} more"] if more > 0 else [])


def check_resumable(path, saved_config, config, saved_shapes, expected_shapes):
    """Raises UserError unless the checkpoint at `path` can continue under `config`.

    saved_shapes / expected_shapes: {leaf name: (shape, dtype)} of the saved and new states.
    """
    model = model_differences(saved_config, config)
    if saved_shapes == expected_shapes and not model:
        return
    params_fit = ({k: v for k, v in saved_shapes.items() if k.startswith("params.")}
                  == {k: v for k, v in expected_shapes.items() if k.startswith("params.")})
    run_dir = os.path.dirname(os.path.dirname(path))  # WORKDIR of WORKDIR/checkpoints/STEP
    hint = (f" (its parameters fit: --config.checkpoint.init_from={run_dir} with another "
            f"--workdir fine-tunes from them)" if params_fit else "")
    if model:
        what = "a different model"
        lines = model
    else:
        what = "a train state of other shapes"
        lines = (config_differences(saved_config, config, _may_change_shapes)
                 or shape_differences(saved_shapes, expected_shapes))
    raise UserError(f"{path} holds {what} than this config: {'; '.join(lines)}; "
                    f"use another --workdir{hint}")


def check_params_fit(path, saved_config, config, saved_params, expected_params):
    """Raises UserError unless the saved parameters fit the new model (same names and shapes)."""
    if saved_params == expected_params:
        return
    lines = (model_differences(saved_config, config)
             or shape_differences(saved_params, expected_params))
    raise UserError(f"the parameters in {path} do not fit this model: {'; '.join(lines)}")
