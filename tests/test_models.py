"""Models: registry, parameter counts, the fast max-pool, and equality with the Keras originals."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxshadow import models
from jaxshadow.errors import UserError
from jaxshadow.models.layers import max_pool_2x2
from jaxshadow.train.state import count_params


def _params(name, shape=(1, 28, 28, 1), **overrides):
    model = models.get(name, **overrides)
    return model, model.init(jax.random.key(0), jnp.zeros(shape))


@pytest.mark.parametrize("name,count", [("cnn_tiny", 54_410), ("cnn_small", 93_322)])
def test_parameter_counts(name, count):
    _, variables = _params(name)
    assert count_params(variables["params"]) == count


def test_registry_lists_and_rejects():
    assert {"cnn_tiny", "cnn_small"} <= set(models.names())
    with pytest.raises(UserError, match="did you mean 'cnn_small'"):
        models.get("cnn_smal")
    with pytest.raises(UserError, match="num_classes"):
        models.get("cnn_small", num_classe=3)


def test_apply_is_pure_and_logits_shape():
    model, variables = _params("cnn_small")
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    a = model.apply(variables, x, train=False)
    b = model.apply(variables, x, train=False)
    assert a.shape == (4, 10) and a.dtype == jnp.float32
    np.testing.assert_array_equal(a, b)


def test_bfloat16_compute_keeps_float32_params():
    model, variables = _params("cnn_small", dtype=jnp.bfloat16)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
    x = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1))
    y = model.apply(variables, x)
    f32 = models.get("cnn_small").apply(variables, x)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(y, f32, atol=0.05, rtol=0.05)
    assert not np.array_equal(np.asarray(y), np.asarray(f32))  # really computed in bf16


@pytest.mark.parametrize("shape", [(2, 26, 26, 32), (2, 11, 11, 64), (1, 7, 10, 3)])
def test_max_pool_2x2_equals_lax_reduce_window(shape):
    x = jax.random.normal(jax.random.key(2), shape)
    ref = lambda x: nn.max_pool(x, (2, 2), (2, 2), "VALID")
    np.testing.assert_array_equal(max_pool_2x2(x), ref(x))
    w = jax.random.normal(jax.random.key(3), ref(x).shape)
    g_fast = jax.grad(lambda x: jnp.sum(max_pool_2x2(x) * w))(x)
    g_ref = jax.grad(lambda x: jnp.sum(ref(x) * w))(x)
    np.testing.assert_allclose(g_fast, g_ref, atol=1e-6)


def _keras_model(name):
    import keras

    layers = keras.layers
    if name == "cnn_tiny":
        stack = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                 layers.Flatten(), layers.Dense(10)]
    else:
        stack = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                 layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                 layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
                 layers.Dense(64, activation="relu"), layers.Dense(10)]
    return keras.Sequential([keras.Input((28, 28, 1)), *stack])


@pytest.mark.parametrize("name", ["cnn_tiny", "cnn_small"])
def test_same_logits_as_keras(name):
    from jaxshadow.data.tf_setup import import_tensorflow
    import_tensorflow(computes=True)
    keras_model = _keras_model(name)
    model, variables = _params(name)
    params = variables["params"]
    # Keras and Flax store Conv kernels as (kh, kw, in, out) and Dense as (in, out): copy as is.
    weighted = [layer for layer in keras_model.layers if layer.weights]
    flax_layers = list(params)  # creation order: conv1, conv2, ..., logits
    assert len(weighted) == len(flax_layers)
    rng = np.random.default_rng(0)
    new_params = {}
    for layer, key in zip(weighted, flax_layers):
        kernel = rng.normal(0, 0.1, params[key]["kernel"].shape).astype(np.float32)
        bias = rng.normal(0, 0.1, params[key]["bias"].shape).astype(np.float32)
        layer.set_weights([kernel, bias])
        new_params[key] = {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}
    x = rng.uniform(0, 1, (8, 28, 28, 1)).astype(np.float32)
    expected = keras_model(x).numpy()
    got = model.apply({"params": new_params}, x)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
