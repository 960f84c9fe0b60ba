"""Full training steps through the project's own `make_train_step`, and their peers.

The JAX step is built exactly as a run builds it (registry model, task, optax optimizer from the
config defaults: Adam, lr 1e-3; state replicated on a one-device mesh) and fed random uint8
batches already on the device. cnn_small: classification with cross-entropy; unet: removal with
the L1 loss on (shadow, shadow_free) pairs. Model FLOPs are counted analytically from the step's
jaxpr (every convolution and matrix product of forward and backward, `benchmarks.flops`).
"""

import jax
import numpy as np

from benchmarks.flops import jaxpr_flops
from benchmarks.timing import time_jax
from jaxshadow import config as config_lib
from jaxshadow.tasks.classification import ClassificationTask
from jaxshadow.tasks.removal import RemovalTask
from jaxshadow.train.mesh import global_batch, make_mesh, replicated
from jaxshadow.train.optimizer import make_optimizer
from jaxshadow.train.setup import build_model, state_builders
from jaxshadow.train.state import count_params, initialize
from jaxshadow.train.steps import make_train_step

DEFAULTS = {"cnn_small": (64, 28, 1), "cnn_tiny": (64, 28, 1), "unet": (8, 128, 3)}


def _host_batch(model_name, batch_size, image_size, channels, rng):
    shape = (batch_size, image_size, image_size)
    if model_name.startswith("cnn"):
        return {"image": rng.integers(1, 256, (*shape, channels), dtype=np.uint8),
                "label": rng.integers(0, 10, batch_size).astype(np.int32)}
    return {"shadow": rng.integers(1, 256, (*shape, 3), dtype=np.uint8),
            "shadow_free": rng.integers(1, 256, (*shape, 3), dtype=np.uint8),
            "mask": rng.integers(0, 2, (*shape, 1), dtype=np.uint8) * 255}


def build_step(model_name, batch_size, image_size, dtype="float32"):
    """(train_step, state, batch, param_count) for the project's step on random data."""
    config = config_lib.defaults()
    config.model.name = model_name
    config.batch_size = batch_size
    config.dtype = dtype
    channels = DEFAULTS.get(model_name, (0, 0, 3))[2]
    model = build_model(config.model, dtype)
    if model_name.startswith("cnn"):
        task = ClassificationTask(num_classes=10)
    else:
        task = RemovalTask(render_shadows=False, loss_weights=(("l1", 1.0),), flip=False)
    tx, _ = make_optimizer(config.optimizer, config.steps)
    mesh = make_mesh(1)
    host = _host_batch(model_name, batch_size, image_size, channels, np.random.default_rng(0))
    input_shape = jax.eval_shape(lambda b: task.prepare(b, jax.random.key(0), train=True),
                                 {k: v[:1] for k, v in host.items()})["input"].shape[1:]
    init_state, abstract = state_builders(config, model, tx, input_shape)
    sharding = jax.tree.map(lambda _: replicated(mesh), abstract)
    state = initialize(init_state, sharding)
    step = make_train_step(model, task, tx, mesh, sharding)
    return step, state, global_batch(host, mesh), count_params(state.params)


def bench_jax(model_name, batch_size, image_size, *, dtype="float32", repeats=5, warmup=2):
    step, state, batch, params = build_step(model_name, batch_size, image_size, dtype)
    flops = jaxpr_flops(step, state, batch)
    timing = time_jax(step, state, batch, repeats=repeats, warmup=warmup, donate=True)
    return {"params": params, "model_flops": flops, "median_s": timing.median_s,
            "compile_s": timing.compile_s, "repeats": timing.repeats}
