"""group_norm.GroupNorm against flax.linen.GroupNorm and a float64 reference."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxshadow.models.group_norm import GroupNorm


def _params(channels, seed=3):
    ks, kb = jax.random.split(jax.random.key(seed))
    return {"params": {"scale": 1.0 + 0.5 * jax.random.normal(ks, (channels,)),
                       "bias": jax.random.normal(kb, (channels,))}}


def _reference(x, scale, bias, groups, epsilon=1e-6):
    """GroupNorm in float64 NumPy: two-pass variance over (H, W, channels of the group)."""
    n, h, w, c = x.shape
    g = x.astype(np.float64).reshape(n, h, w, groups, c // groups)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = ((g - mean) ** 2).mean(axis=(1, 2, 4), keepdims=True)
    return ((g - mean) / np.sqrt(var + epsilon)).reshape(x.shape) * scale + bias


@pytest.mark.parametrize("shape,groups", [((2, 8, 6, 16), 8), ((1, 5, 7, 12), 4),
                                          ((3, 4, 4, 8), 1), ((2, 3, 5, 6), 6)])
def test_values_and_gradients_equal_flax(shape, groups):
    kx, kd = jax.random.split(jax.random.key(0))
    x = 2.0 * jax.random.normal(kx, shape) + 0.5
    dy = jax.random.normal(kd, shape)
    variables = _params(shape[-1])
    ours, vjp = jax.vjp(lambda v, x: GroupNorm(num_groups=groups).apply(v, x), variables, x)
    flax_y, flax_vjp = jax.vjp(lambda v, x: nn.GroupNorm(num_groups=groups).apply(v, x),
                               variables, x)
    np.testing.assert_allclose(ours, flax_y, rtol=1e-5, atol=1e-5)
    p = variables["params"]
    np.testing.assert_allclose(ours, _reference(np.asarray(x), p["scale"], p["bias"], groups),
                               rtol=1e-5, atol=1e-5)
    for g, g_ref in zip(jax.tree.leaves(vjp(dy)), jax.tree.leaves(flax_vjp(dy))):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4 * float(jnp.abs(g_ref).max()))


def test_gradient_matches_float64_finite_differences_of_the_reference():
    x = np.random.default_rng(0).normal(1.0, 3.0, (1, 3, 3, 4))
    variables = _params(4)
    scale, bias = (np.asarray(variables["params"][k], np.float64) for k in ("scale", "bias"))
    dy = np.random.default_rng(1).normal(size=x.shape)
    grad = jax.grad(lambda x: jnp.sum(GroupNorm(num_groups=2).apply(variables, x) * dy))(
        jnp.asarray(x, jnp.float32))
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = np.sum((_reference(x + step, scale, bias, 2)
                                 - _reference(x - step, scale, bias, 2)) * dy) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-4)


def test_same_parameters_as_flax_and_bfloat16_keeps_its_dtype():
    x = jax.random.normal(jax.random.key(1), (2, 4, 4, 16))
    ours = GroupNorm(num_groups=8).init(jax.random.key(0), x)
    theirs = nn.GroupNorm(num_groups=8).init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, theirs)
    module = GroupNorm(num_groups=8, dtype=jnp.bfloat16)
    y, vjp = jax.vjp(lambda x: module.apply(ours, x), x.astype(jnp.bfloat16))
    assert y.dtype == jnp.bfloat16 and vjp(y)[0].dtype == jnp.bfloat16
    reference = nn.GroupNorm(num_groups=8, dtype=jnp.bfloat16).apply(theirs, x.astype(jnp.bfloat16))
    np.testing.assert_allclose(np.float32(y), np.float32(reference), atol=0.05)


def test_channels_not_divisible_by_the_groups_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible by 8 groups, got shape"):
        GroupNorm(num_groups=8).init(jax.random.key(0), jnp.zeros((1, 4, 4, 12)))
