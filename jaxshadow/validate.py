"""Every check a config can fail before its data is opened or its workdir is touched.

`validate(config)` checks keys, types and ranges and needs nothing but the config (no JAX: the
command line runs it before the heavy imports). `validate(config, devices)` adds what depends on
the machine and the installed code: the model and its options and the shadow preset (the
registries, which import JAX), the mesh against the devices, and the
batch sizes against the mesh and the processes. `train` and `eval` call the second form before
anything is written; `predict` and `export` run the first on a saved run's config.

What only the data can tell is checked where the source is opened, with the same one-line
errors: the dataset's task (`tasks.make_task`), its class count and image size
(`train/setup.py`), a reader's files (`data/`).
"""

import os

from jaxshadow.errors import UserError

REQUIRED_KEYS = ("seed", "steps", "batch_size", "log_every", "eval_every", "checkpoint_every",
                 "model", "data", "optimizer", "dtype", "task")
DTYPES = ("float32", "bfloat16")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
TASKS = ("classification", "removal", "detection")
READERS = ("auto", "tf", "numpy", "grain")
MESH_AXES = ("data", "fsdp")


def validate(config, devices=None, process_count=1):
    """Returns `config` when it passes every check; raises UserError naming the key otherwise.

    devices: the devices the run may use (`jax.devices()`), or None for the config-only checks.
    process_count: the number of processes sharing the global batch.
    """
    _check_keys(config)
    _check_optimizer(config.optimizer)
    _check_data(config)
    if devices is not None:
        _check_registries(config)
        _check_devices(config, len(devices), process_count)
    return config


def _check_keys(config):
    for key in REQUIRED_KEYS:
        if key not in config:
            raise UserError(f"config is missing the key '{key}'")
    for key in ("steps", "batch_size", "log_every", "eval_every", "checkpoint_every"):
        if not isinstance(config[key], int) or config[key] <= 0:
            raise UserError(f"config key '{key}' must be a positive integer, got {config[key]!r}")
    if not isinstance(config.eval_batch_size, int) or config.eval_batch_size < 0:
        raise UserError(f"config key 'eval_batch_size' must be 0 or a positive integer, "
                        f"got {config.eval_batch_size!r}")
    if config.dtype not in DTYPES:
        raise UserError(f"config key 'dtype' must be one of {DTYPES}, got '{config.dtype}'")
    if config.task not in TASKS:
        raise UserError(f"config key 'task' must be one of {TASKS}, got '{config.task}'")
    if "name" not in config.model:
        raise UserError("config key 'model.name' is missing")
    if "source" not in config.data:
        raise UserError("config key 'data.source' is missing")
    for name in config.mesh:
        if name not in MESH_AXES:
            raise UserError(f"unknown config key 'mesh.{name}'; the mesh axes are data and fsdp")
    init_from = config.checkpoint.init_from
    if init_from and not os.path.exists(init_from):
        raise UserError(f"config key 'checkpoint.init_from': {init_from} not found (a workdir "
                        f"or a file written by jaxshadow export)")
    if config.task == "detection" and config.model.name != "shadow_detector":
        raise UserError(f"task 'detection' trains model 'shadow_detector' (mask logits), "
                        f"not '{config.model.name}'")


def _check_optimizer(opt):
    if opt.name not in OPTIMIZERS:
        raise UserError(f"config key 'optimizer.name' must be one of {OPTIMIZERS}, got '{opt.name}'")
    if opt.schedule not in SCHEDULES:
        raise UserError(f"config key 'optimizer.schedule' must be one of {SCHEDULES}, "
                        f"got '{opt.schedule}'")
    if opt.learning_rate <= 0:
        raise UserError(f"config key 'optimizer.learning_rate' must be > 0, got {opt.learning_rate}")
    if opt.accumulate_steps < 1:
        raise UserError("config key 'optimizer.accumulate_steps' must be >= 1")
    if not 0.0 <= opt.ema_decay < 1.0:
        raise UserError(f"config key 'optimizer.ema_decay' must be in [0, 1), got {opt.ema_decay}")


def _check_data(config):
    data = config.data
    if data.reader not in READERS:
        raise UserError(f"config key 'data.reader' must be one of {READERS}, got '{data.reader}'")
    if data.reader == "tf":
        from jaxshadow.data.tf_setup import tensorflow_available

        if not tensorflow_available():
            raise UserError("data.reader=tf but TensorFlow is not installed; "
                            "use data.reader=numpy")
    if float(data.max_in_memory_gb) < 0:
        raise UserError(f"config key 'data.max_in_memory_gb' must be >= 0, "
                        f"got {data.max_in_memory_gb}")
    if int(data.workers) < 0:
        raise UserError(f"config key 'data.workers' must be >= 0, got {data.workers}")
    if int(data.device_prefetch) < 1:
        raise UserError(f"config key 'data.device_prefetch' must be >= 1, "
                        f"got {data.device_prefetch}")
    if not isinstance(data.crop, int) or data.crop < 0:
        raise UserError(f"config key 'data.crop' must be 0 or a positive integer, got {data.crop!r}")
    if not 0.0 <= data.shadow_free < 1.0:
        raise UserError(f"config key 'data.shadow_free' is a fraction in [0, 1), "
                        f"got {data.shadow_free}")
    for key in ("bright_shadows", "mild_shadows", "veil"):
        if not 0.0 <= data[key] <= 1.0:
            raise UserError(f"config key 'data.{key}' is a fraction in [0, 1], got {data[key]}")
    if not 0.0 <= data.dead_leaves <= 1.0:
        raise UserError(f"config key 'data.dead_leaves' is a fraction in [0, 1], "
                        f"got {data.dead_leaves}")


def _check_registries(config):
    """The model and its options, the shadow preset: names looked up in the registries."""
    from jaxshadow import models
    from jaxshadow.data.synthetic import PRESETS

    models.check(config.model.name, [k for k in config.model if k != "name"])
    rate = config.model.get("mask_perturbation", 0.0)
    if not 0.0 <= rate <= 1.0:
        raise UserError(f"config key 'model.mask_perturbation' is a fraction in [0, 1], got {rate}")
    if config.data.shadows not in PRESETS:
        raise UserError(f"config key 'data.shadows' must be one of {sorted(PRESETS)}, "
                        f"got '{config.data.shadows}'")


def _check_devices(config, available, process_count):
    from jaxshadow.train.mesh import check_batch_size, mesh_shape

    used = config.num_devices or available
    if config.num_devices < 0 or used > available:
        raise UserError(f"num_devices={config.num_devices} but only {available} devices exist")
    mesh_shape(used, config.mesh.data, config.mesh.fsdp)
    check_batch_size(config.batch_size, used, process_count)
    if config.eval_batch_size:
        check_batch_size(config.eval_batch_size, used, process_count, "eval_batch_size")
