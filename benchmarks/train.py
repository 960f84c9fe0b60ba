"""Full training steps through the project's own `make_train_step`, and their peers.

The JAX step is built exactly as a run builds it (registry model, task, optax optimizer from the
config defaults: Adam, lr 1e-3; state replicated on a one-device mesh) and fed random uint8
batches already on the device. cnn_small: classification with cross-entropy; unet: removal with
the L1 loss on (shadow, shadow_free) pairs; nafnet and shadowformer (the model zoo, their
registry defaults: NAFNet-width32 of the SIDD paper configuration, ShadowFormer's ISTD model,
which also reads the mask as a fourth channel) the same way. Model FLOPs are counted
analytically from the step's jaxpr (every convolution and matrix product of forward and
backward, `benchmarks.flops`).
"""

import dataclasses
import time

import jax
import numpy as np

from benchmarks.flops import jaxpr_flops
from benchmarks.timing import time_call
from jaxshadow import config as config_lib
from jaxshadow.tasks.classification import ClassificationTask
from jaxshadow.tasks.removal import RemovalTask
from jaxshadow.train.mesh import global_batch, make_mesh, replicated
from jaxshadow.train.optimizer import make_optimizer
from jaxshadow.train.setup import build_model, state_builders
from jaxshadow.train.state import count_params, initialize
from jaxshadow.train.steps import make_train_step

# name: (batch size, image size, input channels) of `python -m benchmarks train --model NAME`
DEFAULTS = {"cnn_small": (64, 28, 1), "cnn_tiny": (64, 28, 1), "unet": (8, 128, 3),
            "nafnet": (2, 128, 3), "shadowformer": (1, 160, 4)}


def channels(model_name):
    """Input channels of `model_name` as benchmarked (RGB unless DEFAULTS says otherwise)."""
    return DEFAULTS.get(model_name, (0, 0, 3))[2]


def _host_batch(model_name, batch_size, image_size, image_channels, rng):
    shape = (batch_size, image_size, image_size)
    if model_name.startswith("cnn"):
        return {"image": rng.integers(1, 256, (*shape, image_channels), dtype=np.uint8),
                "label": rng.integers(0, 10, batch_size).astype(np.int32)}
    return {"shadow": rng.integers(1, 256, (*shape, 3), dtype=np.uint8),
            "shadow_free": rng.integers(1, 256, (*shape, 3), dtype=np.uint8),
            "mask": rng.integers(0, 2, (*shape, 1), dtype=np.uint8) * 255}


def build_step(model_name, batch_size, image_size, dtype="float32", options=None):
    """(train_step, state, batch, param_count, model options) for the project's step on random
    data. options: the model's own options (config `model.*`), default the registry's; the
    returned ones are all of them, as the built model has them (for the peers' twins)."""
    config = config_lib.defaults()
    config.model.name = model_name
    config.model.update(options or {})
    config.batch_size = batch_size
    config.dtype = dtype
    model = build_model(config.model, dtype)
    if model_name.startswith("cnn"):
        task = ClassificationTask(num_classes=10)
    else:
        task = RemovalTask(render_shadows=False, loss_weights=(("l1", 1.0),), flip=False,
                           mask_input=channels(model_name) == 4)
    tx, _ = make_optimizer(config.optimizer, config.steps)
    mesh = make_mesh(1)
    host = _host_batch(model_name, batch_size, image_size, channels(model_name),
                       np.random.default_rng(0))
    input_shape = jax.eval_shape(lambda b: task.prepare(b, jax.random.key(0), train=True),
                                 {k: v[:1] for k, v in host.items()})["input"].shape[1:]
    init_state, abstract = state_builders(config, model, tx, input_shape)
    sharding = jax.tree.map(lambda _: replicated(mesh), abstract)
    state = initialize(init_state, sharding)
    step = make_train_step(model, task, tx, mesh, sharding)
    resolved = {f.name: getattr(model, f.name) for f in dataclasses.fields(model)
                if f.name not in ("parent", "name", "dtype", "param_dtype")}
    return step, state, global_batch(host, mesh), count_params(state.params), resolved


class JaxStep:
    """The project's train step for one model, compiled once (`compile_s`: lowering and
    compilation), with its parameter count, resolved options and analytical `model_flops`;
    each `time()` is one round of timed steps, the state donated and fed back as a run does."""

    def __init__(self, model_name, batch_size, image_size, *, dtype="float32", options=None):
        step, self._state, self._batch, self.params, self.options = build_step(
            model_name, batch_size, image_size, dtype, options)
        self.model_flops = jaxpr_flops(step, self._state, self._batch)
        start = time.perf_counter()
        self._compiled = step.lower(self._state, self._batch).compile()
        self.compile_s = time.perf_counter() - start

    def time(self, *, repeats=5, warmup=2):
        """Timing (median of `repeats` steps after `warmup` untimed ones)."""
        def call():
            self._state, metrics = self._compiled(self._state, self._batch)
            jax.block_until_ready((self._state, metrics))
        return time_call(call, repeats=repeats, warmup=warmup)
