"""The models' convolutions, one direction at a time: forward, dgrad (input gradient) and wgrad
(weight gradient), float32 and bfloat16, as the project's layers compute them on this backend
(`impl` "jax", the forms `layers.forms()` selects), the plain lax/flax formulation ("jax-lax")
where the layers have another, the layers' matmul forms forced ("jax-matmul") on a backend that
does not select them, and the peers. `layers.BACKEND_FORMS` is decided from these rows.

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
    """f(x, kernel) -> y for `spec` as `impl` ("jax": the project's layers as this backend runs
    them, "jax-matmul": their matmul forms, "jax-lax": lax / flax)."""
    if spec.kind == "dense":
        return jnp.dot
    if spec.kind == "conv_transpose":
        if impl == "jax-lax":
            return lambda x, k: nn.ConvTranspose(k.shape[-1], (2, 2), strides=(2, 2),
                                                 use_bias=False).apply({"params": {"kernel": k}}, x)
        return functools.partial(layers.conv_transpose_2x2,
                                 form="matmul" if impl == "jax-matmul" else None)
    if impl == "jax-lax":
        conv = lax.conv_general_dilated
    else:
        conv = functools.partial(layers.conv_general_dilated,
                                 form="matmul" if impl == "jax-matmul" else None)
    return functools.partial(conv, window_strides=(spec.stride,) * 2, padding=spec.padding,
                             dimension_numbers=DN)


def impls(spec):
    """The JAX formulations worth timing for `spec`: "jax", and where the layers have a matmul
    form for it, "jax-lax" and (on a backend that selects lax) "jax-matmul"."""
    # every stride-1 convolution has one: im2col (small images), chunked kernel gradients
    # (large ones), 1×1 as a matmul
    has_matmul_form = spec.kind == "conv_transpose" or (spec.kind == "conv" and spec.stride == 1)
    if not has_matmul_form:
        return ("jax",)
    selected = (layers.forms().conv_transpose if spec.kind == "conv_transpose"
                else layers.forms().conv_grad)
    return ("jax", "jax-lax") if selected == "matmul" else ("jax", "jax-matmul", "jax-lax")


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
