"""Group normalisation with per-channel sums and its own backward pass.

`GroupNorm` has the parameters, defaults and values of `flax.linen.GroupNorm` (scale and bias
of shape (C,), epsilon 1e-6, the fast variance E[x²] - E[x]²). x (N, H, W, C), G groups of
C / G channels, M = H · W · C / G values per (n, g):

    s1[n, c] = Σ_{h, w} x,   s2[n, c] = Σ_{h, w} x²                       (N, C)
    μ[n, g]  = Σ_{c ∈ g} s1 / M,   σ²[n, g] = max(Σ_{c ∈ g} s2 / M - μ², 0)
    y = x · a + b,   a = γ / sqrt(σ² + ε),   b = β - μ a                     (per (n, c))

and the gradient, with r = 1 / sqrt(σ² + ε), x̂ = (x - μ) r and, per (n, c),
S1 = Σ_{h, w} dy, S2 = Σ_{h, w} dy · x̂ = r (Σ_{h, w} dy · x - μ S1):

    dβ = Σ_n S1,   dγ = Σ_n S2
    dx = r (γ dy - m1 - x̂ m2),
    m1[n, g] = Σ_{c ∈ g} γ S1 / M,   m2[n, g] = Σ_{c ∈ g} γ S2 / M

Every reduction over the image is a sum over (H, W) to an (N, C) array; the group sums then
run on those small arrays. flax reshapes x to (N, H, W, G, C / G) and reduces over three axes
at once, which XLA:CPU runs 10-20× slower than the per-channel sum (11 ms against 0.9 ms for
(8, 128, 128, 32) on 2 cores), and differentiating it adds more such reductions. Statistics
and gradients are computed in float32 for any input dtype.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def _group_sum(v, groups):
    """(N, C) -> (N, C): the sum over each group of C / groups channels, repeated per channel."""
    n, c = v.shape
    return jnp.repeat(v.reshape(n, groups, c // groups).sum(-1), c // groups, axis=-1)


def _statistics(x, groups, epsilon):
    """Per-(n, c) copies of the group mean and 1 / sqrt(var + epsilon): two (N, C) arrays."""
    n, h, w, c = x.shape
    count = h * w * (c // groups)
    x = x.astype(jnp.float32)
    mean = _group_sum(jnp.sum(x, axis=(1, 2)), groups) / count
    mean_sq = _group_sum(jnp.sum(x * x, axis=(1, 2)), groups) / count
    return mean, jax.lax.rsqrt(jnp.maximum(mean_sq - mean * mean, 0.0) + epsilon)


def _per_pixel(v):
    return v[:, None, None, :]


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def group_norm(x, scale, bias, groups, epsilon, dtype):
    """x (N, H, W, C), scale and bias (C,) -> (N, H, W, C) in `dtype`; see the module docstring."""
    return _forward(x, scale, bias, groups, epsilon, dtype)[0]


def _forward(x, scale, bias, groups, epsilon, dtype):
    mean, rstd = _statistics(x, groups, epsilon)
    a = rstd * scale.astype(jnp.float32)
    b = bias.astype(jnp.float32) - mean * a
    y = x.astype(jnp.float32) * _per_pixel(a) + _per_pixel(b)
    return y.astype(dtype), (x, scale, mean, rstd)


def _backward(groups, epsilon, dtype, residuals, dy):
    x, scale, mean, rstd = residuals
    n, h, w, c = x.shape
    count = h * w * (c // groups)
    gamma = scale.astype(jnp.float32)
    xf, dy = x.astype(jnp.float32), dy.astype(jnp.float32)
    s1 = jnp.sum(dy, axis=(1, 2))                            # Σ dy            (N, C)
    s2 = rstd * (jnp.sum(dy * xf, axis=(1, 2)) - mean * s1)  # Σ dy · x̂       (N, C)
    m1 = _group_sum(gamma * s1, groups) / count
    m2 = _group_sum(gamma * s2, groups) / count
    # dx = r (γ dy - m1 - (x - μ) r m2), as dy · A + x · B + C per (n, c)
    dx = (dy * _per_pixel(rstd * gamma) - xf * _per_pixel(rstd * rstd * m2)
          + _per_pixel(rstd * (rstd * m2 * mean - m1)))
    # scale and bias share the parameter dtype
    return (dx.astype(x.dtype), jnp.sum(s2, axis=0).astype(scale.dtype),
            jnp.sum(s1, axis=0).astype(scale.dtype))


group_norm.defvjp(_forward, _backward)


class GroupNorm(nn.Module):
    """`flax.linen.GroupNorm` (same parameters and values) for NHWC inputs, computed by
    `group_norm`. (N, H, W, C) -> (N, H, W, C)."""

    num_groups: int = 32
    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        channels = x.shape[-1]
        if x.ndim != 4 or channels % self.num_groups:
            raise ValueError(f"GroupNorm needs (N, H, W, C) with C divisible by "
                             f"{self.num_groups} groups, got shape {x.shape}")
        scale = self.param("scale", nn.initializers.ones, (channels,), self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros, (channels,), self.param_dtype)
        dtype = self.dtype or jnp.result_type(x.dtype, self.param_dtype)
        return group_norm(x, scale, bias, self.num_groups, self.epsilon, jnp.dtype(dtype))
