"""Everything a run builds from its config before the first step, shared by train and eval."""

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import models
from jaxshadow.data.sources import make_source
from jaxshadow.errors import UserError
from jaxshadow.tasks import make_task
from jaxshadow.train.mesh import mesh_from_config
from jaxshadow.train.optimizer import make_optimizer
from jaxshadow.train.sharding_rules import state_shardings
from jaxshadow.train.state import create_train_state, initialize
from jaxshadow.validate import validate

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


@dataclasses.dataclass
class Run:
    config: Any
    mesh: Any
    source: Any
    task: Any
    model: Any
    tx: Any
    schedule: Any
    input_shape: tuple     # one example's model input (H, W, C), as the task prepares it
    init_state: Any        # () -> TrainState, pure
    abstract_state: Any    # TrainState of ShapeDtypeStruct
    state_sharding: Any    # TrainState of NamedSharding: large leaves split on 'fsdp'

    def initial_state(self):
        """The train state at step 0, on `state_sharding`."""
        return initialize(self.init_state, self.state_sharding)

    @property
    def eval_batch_size(self):
        return self.config.eval_batch_size or self.config.batch_size


def build_model(model_config, dtype="float32"):
    """The registry model named in `model_config` (name + overrides), computing in `dtype`."""
    overrides = {k: tuple(v) if isinstance(v, list) else v
                 for k, v in model_config.items() if k != "name"}
    return models.get(model_config.name, dtype=DTYPES[dtype], **overrides)


def sample_batch(source, split="train"):
    """One all-zeros example with the split's shapes and dtypes, batch size 1."""
    return {k: np.zeros((1, *shape), dtype) for k, (shape, dtype) in
            source.element_spec(split).items()}


def model_input_shape(task, source):
    """(H, W, C) of one training example as the model reads it (after the task's crops and
    channels), from shapes alone: nothing is computed or compiled."""
    prepared = jax.eval_shape(lambda batch: task.prepare(batch, jax.random.key(0), train=True),
                              sample_batch(source))
    return tuple(int(n) for n in prepared["input"].shape[1:])


def build_run(config):
    """Mesh, data source, task, model, optimizer and the train state's shapes and shardings.

    Every config check (`jaxshadow.validate`, with this machine's devices) runs first; the
    checks that need the data run as the source is opened."""
    validate(config, jax.devices(), jax.process_count())
    mesh = mesh_from_config(config)
    source = make_source(config.data)
    config = with_source_classes(config, source)
    task = make_task(config, source)
    model = build_model(config.model, config.dtype)
    tx, schedule = make_optimizer(config.optimizer, config.steps)
    _check_crop(config.data, source)
    input_shape = model_input_shape(task, source)
    init_state, abstract_state = state_builders(config, model, tx, input_shape)
    state_sharding = state_shardings(abstract_state, mesh)
    return Run(config, mesh, source, task, model, tx, schedule, input_shape, init_state,
               abstract_state, state_sharding)


def with_source_classes(config, source):
    """`config` with `model.num_classes` set to the classification source's class count.

    An explicit `model.num_classes` wins, but may not be smaller than the data's count (labels
    past the last logit make the cross-entropy NaN). Other tasks: `config` unchanged.
    """
    classes = getattr(source, "num_classes", None)
    if config.task != "classification" or not classes:
        return config
    if "num_classes" in config.model:
        if config.model.num_classes < classes:
            raise UserError(f"model.num_classes={config.model.num_classes} but data.source "
                            f"'{config.data.source}' has {classes} classes")
        return config
    config = config.copy_and_resolve_references()
    with config.model.unlocked():
        config.model.num_classes = int(classes)
    return config


def _check_crop(data_config, source):
    """A training crop must fit in the training images."""
    crop, spec = data_config.crop, source.element_spec("train")
    main = next((k for k in ("shadow_free", "image") if k in spec), None)
    if not crop or main is None:
        return
    h, w = spec[main][0][:2]
    if crop > h or crop > w:
        raise UserError(f"data.crop={crop} does not fit in the training images of "
                        f"{data_config.source} ({h}×{w})")


def state_builders(config, model, tx, input_shape):
    """(init_state: () -> TrainState, its ShapeDtypeStruct tree) for model inputs of one
    example's shape `input_shape` (H, W, C). Needs no data: a saved run rebuilds its state's
    structure from its config and the input shape it saved."""
    init_state = functools.partial(create_train_state, model, tx, jax.random.key(config.seed),
                                   tuple(input_shape), ema=config.optimizer.ema_decay > 0)
    return init_state, jax.eval_shape(init_state)


def abstract_state(config, input_shape):
    """The TrainState of ShapeDtypeStruct of a run with `config`, for model inputs of one
    example's shape (H, W, C)."""
    model = build_model(config.model, config.dtype)
    tx, _ = make_optimizer(config.optimizer, config.steps)
    return state_builders(config, model, tx, input_shape)[1]


def prepare_workdir(workdir):
    """Creates `workdir` if needed; refuses a path that is a file or cannot be written."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise UserError(f"workdir {workdir} exists and is not a directory")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create workdir {workdir}: {e.strerror}") from e
    if not os.access(workdir, os.W_OK):
        raise UserError(f"workdir {workdir} is not writable")
