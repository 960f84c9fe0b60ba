"""MATLAB ``imresize(img, [h w])`` (bicubic, antialiased) in NumPy float64, for host-side evaluation.

The published 256x256 shadow-removal numbers resize with MATLAB's default imresize, so matching
them needs MATLAB's kernel, index mapping and edge rule, which PIL / OpenCV / jax.image do not
all share. Per axis, with scale s = out_len / in_len and 1-based output index x:

  u = x / s + 0.5 * (1 - 1/s)                         (input coordinate of output pixel x)
  k(t) = 1.5|t|^3 - 2.5|t|^2 + 1             |t| <= 1  (Keys cubic, a = -0.5)
         -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2     1 < |t| <= 2
  downscaling (s < 1, antialiasing): h(t) = s k(s t), kernel width 4 / s; else h = k, width 4
  taps j = floor(u - width/2) + (0 .. ceil(width) + 1), weights h(u - j) normalised to sum 1
  out-of-range j are mirrored, edge pixel repeated: [1..n, n..1] indexed cyclically.

The axis with the smaller scale is resized first, as MATLAB does. Float input gives unclipped
float64 output (MATLAB on double); uint8 input gives uint8 output, rounded and clipped, like
MATLAB on uint8.
"""

import jax.numpy as jnp
import numpy as np


def _cubic(t):
    """Keys cubic kernel with a = -0.5 (MATLAB's 'bicubic')."""
    a = np.abs(t)
    a2, a3 = a * a, a * a * a
    return (1.5 * a3 - 2.5 * a2 + 1.0) * (a <= 1) + (
        -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0
    ) * ((a > 1) & (a <= 2))


def resize_weights(in_len, out_len):
    """Dense (out_len, in_len) float64 matrix W with resized = W @ signal, as MATLAB imresize."""
    scale = out_len / in_len
    width = 4.0
    if scale < 1:
        kernel = lambda t: scale * _cubic(scale * t)
        width = width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    j = left[:, None] + np.arange(taps)[None, :]  # (out_len, taps), 1-based input indices
    w = kernel(u[:, None] - j)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])  # 0-based
    idx = mirror[np.mod(j.astype(np.int64) - 1, 2 * in_len)]
    matrix = np.zeros((out_len, in_len))
    np.add.at(matrix, (np.repeat(np.arange(out_len), taps), idx.ravel()), w.ravel())
    return matrix


def imresize_matlab(image, out_hw):
    """MATLAB ``imresize(image, out_hw)`` (bicubic, antialiased) of an HxW or HxWxC array.

    Returns an (out_h, out_w[, C]) array: float64 for float input, uint8 (round, clip) for uint8.
    """
    image = np.asarray(image)
    is_uint8 = image.dtype == np.uint8
    x = image.astype(np.float64)
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    in_h, in_w = x.shape[:2]
    scales = (out_h / in_h, out_w / in_w)
    for axis in np.argsort(scales, kind="stable"):  # smaller scale first, as MATLAB
        in_len, out_len = x.shape[axis], (out_h, out_w)[axis]
        if in_len == out_len:
            continue
        w = resize_weights(in_len, out_len)
        x = np.moveaxis(np.tensordot(w, x, axes=([1], [axis])), 0, axis)
    if is_uint8:
        return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)  # round half up, as MATLAB
    return x


def imresize_matlab_batch(images, out_hw):
    """`imresize_matlab` of a batch, in JAX (jit-able): (N, H, W, C) float -> (N, h, w, C) float32.

    The same separable weights as MATLAB (``resize_weights``, built on the host for the static
    shapes), applied as two matrix products in float32; no rounding or clipping, as MATLAB on
    double input.
    """
    _, in_h, in_w, _ = images.shape
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    x = jnp.asarray(images, jnp.float32)
    if (in_h, in_w) == (out_h, out_w):
        return x
    rows = jnp.asarray(resize_weights(in_h, out_h), jnp.float32)
    cols = jnp.asarray(resize_weights(in_w, out_w), jnp.float32)
    x = jnp.einsum("oh,nhwc->nowc", rows, x, precision="highest")
    return jnp.einsum("pw,nowc->nopc", cols, x, precision="highest")
