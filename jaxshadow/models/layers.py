"""Small building blocks shared by the models, written in the form XLA compiles fastest.

`max_pool_2x2` computes exactly `flax.linen.max_pool(x, (2, 2), (2, 2), "VALID")` (odd edges are
dropped, as Keras and PyTorch do) but as a reshape and a max over the window axes: XLA:CPU
lowers the `reduce_window` gradient (`select_and_scatter`) to a slow generic loop, while the
gradient of a reshape + max is an elementwise select (with its own backward pass: the tie
counts from four slices, not a reduction over the window axes).

`ConvTranspose2x2` computes exactly `flax.linen.ConvTranspose(f, (2, 2), strides=(2, 2))`
(padding SAME, same parameters: kernel (2, 2, Cin, f) and bias (f,)) as one matrix product and a
depth-to-space reshape. A stride-2 2×2 transposed convolution writes each input pixel to its own
2×2 output block, so

    y[n, 2i + a, 2j + b, :] = x[n, i, j, :] @ kernel[1 - a, 1 - b] + bias

The windows never overlap: no zeros are multiplied, and the backward pass is two matrix products
instead of XLA:CPU's lhs-dilated convolutions (about 30× slower on CPU).

`conv_general_dilated` is `lax.conv_general_dilated` in faster forms; `nn.Conv(...,
conv_general_dilated=conv_general_dilated)` keeps nn.Conv's parameters. A stride-1 NHWC/HWIO
convolution whose output has at most `SMALL_IMAGE_PIXELS` positions and the input's size
(SAME padding: the U-Nets' deep levels) stays the lax convolution: XLA:CPU gives all three of
its directions to YNNPACK then (the input gradient is a same-size convolution too), as fast
as the patch products below while the patch matrix is small and 2–3× faster once it
outgrows the cache (the demo's joint step 23 % faster in float32, 31 % in bfloat16). A
smaller output (VALID padding, as in the classifiers) has an input gradient larger than its
input, which XLA:CPU leaves to a slower kernel; there the forward pass and both gradients are
matrix products of the patch matrix P (im2col, built by one gather and kept for the backward
pass):

    P[n, h, w, (i, j, c)] = x_padded[n, h + i, w + j, c]        (N, Ho, Wo, kh·kw·Cin)
    y = P @ K.reshape(kh·kw·Cin, Cout)
    dK = Pᵀ @ dy,   dx = crop(Σ_{i, j} shift_(i, j)(dy @ K[i, j]ᵀ))   (col2im of dy @ Kᵀ, per tap)

XLA:CPU runs these as large matrix products, 1.5–3× faster than its convolutions on such
images (cnn_small's 13² VALID convolution: 1.6× forward and backward, 3× forward in a training
step). With one input channel (a grayscale first layer) P has only kh·kw columns and its
product is memory-bound, so the forward pass is instead the kh·kw broadcast products

    y = Σ_{i, j} x_padded[:, i:i + Ho, j:j + Wo, :1] · K[i, j, 0, :]

which XLA fuses with the bias, activation and pooling that follow (cnn_small's step about 10 %
faster); its gradients are the im2col ones above. Larger images compute
the forward pass and the input gradient (a convolution of dy with the flipped kernel) as lax
convolutions whose padding is widened until the output is larger than the input, then
cropped: XLA:CPU gives float32 convolutions to YNNPACK unless the output is larger than the
input, and its other kernels (Eigen's) run 3×3 convolutions with more than 16 output channels
1.3–2× faster at 64²–128² (as fast at 16²–32²; YNNPACK stays faster with ≤ 16 output
channels, which keep the plain convolution). Building P costs more than it saves there. The
kernel gradient is kh·kw matrix products of shifted views, accumulated over chunks of about
`WGRAD_CHUNK_PIXELS` output positions (a few rows of one image, a `lax.scan`) so that each
chunk's views are cut from data in cache:

    dK[i, j] = Σ_(n, rows) x_padded[n, rows + i, j:j + Wo].reshape(-1, Cin)ᵀ
                           @ dy[n, rows].reshape(-1, Cout)

2–2.5× faster than XLA:CPU's backward-filter convolution for 32–128 channels at 32²–128²
(which runs at about 10 % of the matmul peak on 128² images), and than the same products over
whole-batch views (whose slices XLA:CPU copies out at a few GB/s). Two more stride-1 cases have
their own forms, at any image size:

    depthwise (feature_group_count = Cin = Cout, kernel (kh, kw, 1, C)):
        y = Σ_{i, j} x_padded[:, i:i + Ho, j:j + Wo, :] · kernel[i, j, 0, :]
    1×1, no padding:  y = x @ kernel[0, 0]

XLA:CPU's grouped convolution runs 15–30× slower than these elementwise products and its 1×1
convolution 2–3× slower than the matrix product, forward and backward (NAFNet's and
ShadowFormer's blocks are made of both). The depthwise sum accumulates in float32 for bfloat16
and float16 inputs, as the convolution does, and has its own backward pass (the same shifted
products with the flipped kernel, and kh·kw reductions for the kernel; 1.5× faster NAFNet steps
than differentiating the sum). Every other convolution goes to lax unchanged.

These are XLA:CPU's fast forms (measured in the conv benchmark's "jax" vs "jax-lax" rows,
benchmarks/results/cpu-2core.md). On a GPU or TPU, cuDNN and the TPU compiler implement lax's
own convolutions, transposed convolutions and `reduce_window` directly, so there each layer
computes the plain lax form (`LAX_FORMS`) unless the backend's rows show the matmul forms win.
`forms()` makes that choice per backend at trace time; the environment variable
`JAXSHADOW_LAYER_FORMS=matmul|lax` forces one (the benchmarks time both). Both forms have the
same parameters and the same values (tested).
"""

import dataclasses
import functools
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

SMALL_IMAGE_PIXELS = 28 * 28
EIGEN_MIN_FEATURES = 16  # large-image convolutions with more output channels go to Eigen
WGRAD_CHUNK_PIXELS = 4096  # output positions per chunk of the large-image kernel gradient
DN = ("NHWC", "HWIO", "NHWC")


@dataclasses.dataclass(frozen=True)
class LayerForms:
    """The form each layer is computed in: "matmul" (this package's) or "lax" (the plain op;
    for group_norm, `flax.linen.GroupNorm` instead of `group_norm.GroupNorm`)."""

    conv_grad: str
    conv_transpose: str
    max_pool: str
    group_norm: str


MATMUL_FORMS = LayerForms(conv_grad="matmul", conv_transpose="matmul", max_pool="matmul",
                          group_norm="matmul")
LAX_FORMS = LayerForms(conv_grad="lax", conv_transpose="lax", max_pool="lax", group_norm="lax")
BACKEND_FORMS = {"cpu": MATMUL_FORMS}  # every other backend: LAX_FORMS
FORMS_ENV = "JAXSHADOW_LAYER_FORMS"


def forms(backend=None):
    """The LayerForms for `backend` (default: JAX's default backend), or the ones forced by
    $JAXSHADOW_LAYER_FORMS ("matmul" or "lax")."""
    forced = os.environ.get(FORMS_ENV, "")
    if forced:
        if forced not in ("matmul", "lax"):
            raise ValueError(f"{FORMS_ENV} must be 'matmul' or 'lax', got '{forced}'")
        return MATMUL_FORMS if forced == "matmul" else LAX_FORMS
    return BACKEND_FORMS.get(backend or jax.default_backend(), LAX_FORMS)


def max_pool_2x2(x, form=None):
    """2×2 max-pool, stride 2, VALID. x: (N, H, W, C) -> (N, H // 2, W // 2, C).
    form: "matmul" (reshape + max, `_max_pool_windows`) or "lax" (reduce_window); default
    `forms().max_pool`."""
    if (form or forms().max_pool) == "lax":
        return nn.max_pool(x, (2, 2), strides=(2, 2), padding="VALID")
    return _max_pool_windows(x)


def _windows(x):
    """(N, H, W, C) -> (N, H // 2, 2, W // 2, 2, C), odd edges dropped."""
    n, h, w, c = x.shape
    return x[:, : h - h % 2, : w - w % 2, :].reshape(n, h // 2, 2, w // 2, 2, c)


@jax.custom_vjp
def _max_pool_windows(x):
    """The max over each 2×2 window, with jnp.max's gradient (split evenly between tied
    maxima) computed from the four window positions as separate slices:

        e = (x == y↑),   count = e₀₀ + e₀₁ + e₁₀ + e₁₁,   dx = e · (dy / count)↑

    (XLA:CPU runs the (2, 2)-axis reductions of jnp.max's own gradient 2× slower.)"""
    return jnp.max(_windows(x), axis=(2, 4))


def _max_pool_fwd(x):
    y = _max_pool_windows(x)
    return y, (x, y)


def _max_pool_bwd(residuals, dy):
    x, y = residuals
    hit = (_windows(x) == y[:, :, None, :, None, :]).astype(dy.dtype)
    count = hit[:, :, 0, :, 0] + hit[:, :, 0, :, 1] + hit[:, :, 1, :, 0] + hit[:, :, 1, :, 1]
    dx = (hit * (dy / count)[:, :, None, :, None, :]).reshape(
        x.shape[0], 2 * y.shape[1], 2 * y.shape[2], x.shape[3])
    return (_pad_hw(dx, ((0, x.shape[1] % 2), (0, x.shape[2] % 2))),)


_max_pool_windows.defvjp(_max_pool_fwd, _max_pool_bwd)


def conv_transpose_2x2(x, kernel, form=None):
    """Stride-2 2×2 transposed convolution, no bias. x: (N, H, W, Cin), kernel: (2, 2, Cin, Cout)
    in flax/lax `conv_transpose` layout -> (N, 2H, 2W, Cout).
    form: "matmul" or "lax" (`lax.conv_transpose`); default `forms().conv_transpose`."""
    if (form or forms().conv_transpose) == "lax":
        return lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=DN)
    n, h, w, cin = x.shape
    cout = kernel.shape[-1]
    # (a, b, Cin, Cout) flipped -> (Cin, a·b·Cout): column block (a, b) fills output pixel (a, b).
    k = jnp.transpose(kernel[::-1, ::-1], (2, 0, 1, 3)).reshape(cin, 4 * cout)
    y = jnp.dot(x.reshape(n * h * w, cin), k).reshape(n, h, w, 2, 2, cout)
    return jnp.transpose(y, (0, 1, 3, 2, 4, 5)).reshape(n, 2 * h, 2 * w, cout)


class ConvTranspose2x2(nn.Module):
    """`nn.ConvTranspose(features, (2, 2), strides=(2, 2))`, same parameters, as a matmul.

    (N, H, W, Cin) -> (N, 2H, 2W, features). Inputs, kernel and bias are promoted to `dtype`.
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (2, 2, x.shape[-1], self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = conv_transpose_2x2(x, kernel)
        return y if bias is None else y + bias


def _patch_indices(height, width, kh, kw):
    """Flat indices into an (H·W) image of every output position's window, in the order
    (ho, wo, i, j): (Ho·Wo·kh·kw,) int32, computed once per shape in NumPy."""
    ho, wo = height - kh + 1, width - kw + 1
    rows = np.arange(ho)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    cols = np.arange(wo)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    return (rows * width + cols).reshape(-1).astype(np.int32)


def _patches(x, kh, kw):
    """im2col of an already padded x (N, H, W, C) -> P (N, Ho, Wo, kh·kw·C), the window of
    output (ho, wo) in the order (i, j, c) of kernel.reshape(kh·kw·C, Cout); one gather
    (2-3× faster on XLA:CPU than concatenating kh·kw slices)."""
    n, h, w, c = x.shape
    p = jnp.take(x.reshape(n, h * w, c), _patch_indices(h, w, kh, kw), axis=1, mode="clip")
    return p.reshape(n, h - kh + 1, w - kw + 1, kh * kw * c)


def _pad_hw(x, pads):
    """x (N, H, W, C) padded with zeros by pads ((lo, hi), (lo, hi)); negative entries crop."""
    return lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*pads[0], 0), (*pads[1], 0),
                                               (0, 0, 0)))


def _lax_conv(x, kernel, pads):
    return lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=DN)


def _conv_eigen(x, kernel, pads):
    """`_lax_conv`, by XLA:CPU's Eigen kernels where they are faster than YNNPACK's (float32,
    more than `EIGEN_MIN_FEATURES` output channels): the padding is widened until the output
    is larger than the input in both spatial dimensions (XLA:CPU then leaves the convolution
    to Eigen) and the extra rows and columns are cropped."""
    if x.dtype != jnp.float32 or kernel.shape[3] <= EIGEN_MIN_FEATURES:
        return _lax_conv(x, kernel, pads)
    out = [x.shape[1 + a] + sum(pads[a]) - kernel.shape[a] + 1 for a in (0, 1)]
    extra = [max(0, x.shape[1 + a] + 1 - out[a]) for a in (0, 1)]
    wide = tuple((lo + e // 2, hi + e - e // 2) for (lo, hi), e in zip(pads, extra))
    y = lax.conv_general_dilated(x, kernel, (1, 1), wide, dimension_numbers=DN)
    return y[:, extra[0] // 2:extra[0] // 2 + out[0], extra[1] // 2:extra[1] // 2 + out[1]]


def _conv_fwd(x, kernel, pads):
    return _conv_eigen(x, kernel, pads), (x, kernel)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_im2col(x, kernel, pads):
    """y = P @ K.reshape(kh·kw·Cin, Cout), P = `_patches`(pad(x)), kept for the backward pass:
    dK = Pᵀ @ dy, dx = `_col2im_taps`(dy, K)."""
    return _im2col_fwd(x, kernel, pads)[0]


def _im2col_fwd(x, kernel, pads):
    kh, kw, cin, cout = kernel.shape
    p = _patches(_pad_hw(x, pads), kh, kw)
    return jnp.dot(p, kernel.reshape(kh * kw * cin, cout)), (p, kernel)


def _im2col_bwd(pads, residuals, dy):
    p, kernel = residuals
    kh, kw, cin, cout = kernel.shape
    dk = lax.dot_general(p.reshape(-1, kh * kw * cin), dy.reshape(-1, cout),
                         (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32)
    dx = _col2im_taps(dy, kernel, pads).astype(p.dtype)
    return dx, dk.reshape(kernel.shape).astype(kernel.dtype)


def _col2im_taps(dy, kernel, pads):
    """col2im(dy @ Kᵀ) without the (N·Ho·Wo, kh·kw·Cin) matrix dy @ Kᵀ: one product per tap,
    each added into the padded input grid at its offset, then the padding cropped:

        dx_padded[:, i:i + Ho, j:j + Wo] += dy @ kernel[i, j]ᵀ,   dx = crop(dx_padded, pads)

    dy (N, Ho, Wo, Cout), kernel (kh, kw, Cin, Cout) -> dx (N, H, W, Cin), accumulated and
    returned in float32. Against the one wide product and col2im on XLA:CPU (AMD Zen 3,
    alternating in one process): cnn_small's step 5 % faster in float32 and 40 % in bfloat16."""
    kh, kw = kernel.shape[:2]
    dx = sum(_pad_hw(jnp.dot(dy, kernel[i, j].T, preferred_element_type=jnp.float32),
                     ((i, kh - 1 - i), (j, kw - 1 - j)))
             for i in range(kh) for j in range(kw))
    return _pad_hw(dx, ((-pads[0][0], -pads[0][1]), (-pads[1][0], -pads[1][1])))


_conv_im2col.defvjp(_im2col_fwd, _im2col_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_one_channel(x, kernel, pads):
    """x (N, H, W, 1) convolved to Cout channels as `_shifted_products` (fused with what
    follows), with `_conv_im2col`'s gradients (P kept for the backward pass)."""
    return _shifted_products(x, kernel, pads)


def _one_channel_fwd(x, kernel, pads):
    kh, kw = kernel.shape[:2]
    return _shifted_products(x, kernel, pads), (_patches(_pad_hw(x, pads), kh, kw), kernel)


_conv_one_channel.defvjp(_one_channel_fwd, _im2col_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_shifted_wgrad(x, kernel, pads):
    return _conv_eigen(x, kernel, pads)


def _chunk_rows(height, width):
    """Output rows per chunk of `_chunked_wgrad`: about WGRAD_CHUNK_PIXELS positions."""
    return max(1, min(height, WGRAD_CHUNK_PIXELS // width))


def _chunked_wgrad(x, dy, kernel_shape, pads):
    """dK[i, j] = Σ_{n, h, w} pad(x)[n, h + i, w + j, :] ⊗ dy[n, h, w, :], in float32.

    x (N, H, W, Cin), dy (N, Ho, Wo, Cout), kernel_shape (kh, kw, Cin, Cout). A `lax.scan` runs
    over chunks of `_chunk_rows` output rows of one image (dy padded with zero rows to a whole
    number of chunks; they add nothing); each chunk's kh·kw shifted views are cut from a slice
    that stays in cache and contracted with the chunk's dy in one matrix product per tap.
    """
    kh, kw, cin, cout = kernel_shape
    n, ho, wo, _ = dy.shape
    rows = _chunk_rows(ho, wo)
    chunks = -(-ho // rows)
    extra = chunks * rows - ho
    padded = _pad_hw(x, ((pads[0][0], pads[0][1] + extra), pads[1]))
    dy = _pad_hw(dy, ((0, extra), (0, 0)))
    width = padded.shape[2]

    def accumulate(acc, index):
        image, chunk = index // chunks, index % chunks
        xs = lax.dynamic_slice(padded, (image, chunk * rows, 0, 0),
                               (1, rows + kh - 1, width, cin))[0]
        d = lax.dynamic_slice(dy, (image, chunk * rows, 0, 0), (1, rows, wo, cout))[0]
        d = d.reshape(-1, cout)
        taps = [lax.dot_general(xs[i:i + rows, j:j + wo].reshape(-1, cin), d,
                                (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32)
                for i in range(kh) for j in range(kw)]
        return acc + jnp.stack(taps), None

    acc, _ = lax.scan(accumulate, jnp.zeros((kh * kw, cin, cout), jnp.float32),
                      jnp.arange(n * chunks))
    return acc.reshape(kernel_shape)


def _shifted_wgrad_bwd(pads, residuals, dy):
    """The input gradient as the convolution of dy with the flipped, transposed kernel
    (`_conv_eigen`); the kernel gradient from `_chunked_wgrad`."""
    x, kernel = residuals
    dy = lax.optimization_barrier(dy)
    kh, kw = kernel.shape[:2]
    back = tuple((k - 1 - lo, x.shape[1 + a] - dy.shape[1 + a] + lo)
                 for a, (k, (lo, _)) in enumerate(zip((kh, kw), pads)))
    dx = _conv_eigen(dy, jnp.flip(kernel, (0, 1)).swapaxes(2, 3), back)
    dkernel = _chunked_wgrad(x, dy, kernel.shape, pads)
    return dx, dkernel.astype(kernel.dtype)


_conv_shifted_wgrad.defvjp(_conv_fwd, _shifted_wgrad_bwd)


def _shifted_products(x, kernel, pads):
    """Σ_{i, j} pad(x)[:, i:i + Ho, j:j + Wo, :] · kernel[i, j, 0, :]: x (N, H, W, C), kernel
    (kh, kw, 1, C), pads ((lo, hi), (lo, hi)) (negative crops) -> (N, Ho, Wo, C) in x's dtype,
    accumulated in float32 for bfloat16 and float16. A depthwise convolution; with x of one
    channel (N, H, W, 1) the product broadcasts and it is the full convolution to C channels."""
    kh, kw = kernel.shape[:2]
    x = _pad_hw(x, pads)
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    acc = jnp.float32 if x.dtype in (jnp.bfloat16, jnp.float16) else x.dtype
    y = sum(x[:, i:i + ho, j:j + wo, :].astype(acc) * kernel[i, j, 0].astype(acc)
            for i in range(kh) for j in range(kw))
    return y.astype(x.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _depthwise_shifted(x, kernel, pads):
    """Depthwise stride-1 convolution as shifted products (`_shifted_products`), with its own
    backward pass:

        dx = Σ_{i, j} pad'(dy)[:, i:i + H, j:j + W] · kernel[kh-1-i, kw-1-j]   (pads' = k-1-pads)
        dkernel[i, j, 0, :] = Σ_{n, h, w} pad(x)[n, h + i, w + j, :] · dy[n, h, w, :]

    dy is materialised once first: left to itself, XLA:CPU fuses the whole producer of dy into
    each of the kh·kw reductions and computes it kh·kw times."""
    return _shifted_products(x, kernel, pads)


def _depthwise_fwd(x, kernel, pads):
    return _shifted_products(x, kernel, pads), (x, kernel)


def _depthwise_bwd(pads, residuals, dy):
    x, kernel = residuals
    kh, kw = kernel.shape[:2]
    dy = lax.optimization_barrier(dy)
    flipped_pads = ((kh - 1 - pads[0][0], kh - 1 - pads[0][1]),
                    (kw - 1 - pads[1][0], kw - 1 - pads[1][1]))
    dx = _shifted_products(dy, kernel[::-1, ::-1], flipped_pads).astype(x.dtype)
    acc = jnp.float32 if x.dtype in (jnp.bfloat16, jnp.float16) else x.dtype
    padded = _pad_hw(x, pads).astype(acc)
    ho, wo, c = dy.shape[1:]
    d = dy.astype(acc).reshape(-1, c)
    taps = [jnp.sum((padded[:, i:i + ho, j:j + wo, :].reshape(-1, c) * d), axis=0)
            for i in range(kh) for j in range(kw)]
    return dx, jnp.stack(taps).reshape(kernel.shape).astype(kernel.dtype)


_depthwise_shifted.defvjp(_depthwise_fwd, _depthwise_bwd)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None, *,
                         form=None):
    """`lax.conv_general_dilated`, same arguments and result; with form "matmul" (default
    `forms().conv_grad`) stride-1 2-D NHWC/HWIO convolutions take the forms described in the
    module docstring: depthwise as shifted products, 1×1 as a matrix product, small VALID images
    as im2col products, large images with chunked kernel gradients."""
    args = (lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            feature_group_count, batch_group_count, precision, preferred_element_type)
    if (form or forms().conv_grad) == "lax":
        return lax.conv_general_dilated(*args)
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    simple = (lhs.ndim == 4 and tuple(window_strides) == (1, 1)
              and all(d in (None, (1, 1), [1, 1]) for d in (lhs_dilation, rhs_dilation))
              and batch_group_count == 1 and precision is None
              and preferred_element_type is None
              and dn == lax.conv_dimension_numbers(lhs.shape, rhs.shape, DN))
    depthwise = (feature_group_count == lhs.shape[-1] == rhs.shape[-1] and rhs.shape[2] == 1)
    if not simple or not (feature_group_count == 1 or depthwise):
        return lax.conv_general_dilated(*args)
    pads = padding
    if isinstance(padding, str):
        pads = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], (1, 1), padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if depthwise:
        return _depthwise_shifted(lhs, rhs, pads)
    if rhs.shape[:2] == (1, 1) and pads == ((0, 0), (0, 0)):
        return jnp.dot(lhs, rhs[0, 0])
    ho = lhs.shape[1] + sum(pads[0]) - rhs.shape[0] + 1
    wo = lhs.shape[2] + sum(pads[1]) - rhs.shape[1] + 1
    if ho * wo > SMALL_IMAGE_PIXELS:
        return _conv_shifted_wgrad(lhs, rhs, pads)
    if lhs.shape[-1] == 1:
        return _conv_one_channel(lhs, rhs, pads)
    if (ho, wo) == lhs.shape[1:3]:
        return _lax_conv(lhs, rhs, pads)
    return _conv_im2col(lhs, rhs, pads)


# nn.Conv computed in this module's forms: same parameters, names and values.
Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)
