"""The models' convolutions, one direction at a time: forward, dgrad (input gradient) and wgrad
(weight gradient), float32 and bfloat16, as the project's layers compute them (`impl` "jax"), the
plain lax/flax formulation they replace where it differs ("jax-lax"), and the peers.

gflop_per_s = spec.flops() / median_s; pct_of_peak against the jnp.dot peak of the same dtype
measured in the same run.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from benchmarks.timing import time_jax
from jaxshadow.models import layers

DN = ("NHWC", "HWIO", "NHWC")


def _conv_fn(spec, impl):
    """f(x, kernel) -> y for `spec` as `impl` ("jax": the project's layers, "jax-lax": lax)."""
    if spec.kind == "dense":
        return jnp.dot
    if spec.kind == "conv_transpose":
        if impl == "jax":
            return layers.conv_transpose_2x2
        return lambda x, k: nn.ConvTranspose(k.shape[-1], (2, 2), strides=(2, 2),
                                             use_bias=False).apply({"params": {"kernel": k}}, x)
    conv = layers.conv_general_dilated if impl == "jax" else lax.conv_general_dilated
    return functools.partial(conv, window_strides=(spec.stride,) * 2, padding=spec.padding,
                             dimension_numbers=DN)


def impls(spec):
    """The JAX formulations worth timing for `spec`."""
    if spec.kind == "conv_transpose":
        return ("jax", "jax-lax")
    if spec.kind == "conv" and layers.conv_general_dilated is not lax.conv_general_dilated:
        h, w = spec.output_hw()
        if spec.stride == 1 and h * w <= layers.SMALL_IMAGE_PIXELS:
            return ("jax", "jax-lax")
    return ("jax",)


def direction_fn(spec, impl, direction):
    """g(x, kernel, dy) computing only `direction` (XLA drops the unused parts)."""
    f = _conv_fn(spec, impl)
    if direction == "fwd":
        return lambda x, k, dy: f(x, k)
    index = 0 if direction == "dgrad" else 1
    return lambda x, k, dy: jax.vjp(f, x, k)[1](dy)[index]


def inputs(spec, dtype):
    """Random x, kernel and output gradient dy for `spec`, on the default device."""
    kx, kk, kd = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, spec.input_shape(), dtype)
    k = jax.random.normal(kk, spec.kernel_shape(), dtype) / jnp.sqrt(
        jnp.prod(jnp.array(spec.kernel_shape()[:-1]))).astype(dtype)
    y_shape = jax.eval_shape(_conv_fn(spec, "jax"), x, k).shape
    return x, k, jax.random.normal(kd, y_shape, dtype)


def time_op(spec, impl, direction, dtype, *, repeats, warmup):
    x, k, dy = inputs(spec, jnp.dtype(dtype))
    return time_jax(direction_fn(spec, impl, direction), x, k, dy, repeats=repeats,
                    warmup=warmup)
