"""NAFNet (Chen, Chu, Zhang and Sun, "Simple Baselines for Image Restoration", ECCV 2022).

A U-Net of NAFBlocks with no nonlinear activation functions: the simple gate (split the
channels in two halves, multiply them) stands in for GELU, and the simplified channel attention
is one 1×1 convolution of the spatial mean.

    NAFBlock(c), x (N, H, W, c):
        t = LayerNorm(x)                                  (over channels, eps 1e-6)
        t = DWConv3×3(Conv1×1_{c→2c}(t))                  (depthwise, 2c channels)
        t = t[..., :c] · t[..., c:]                       (simple gate)
        t = t · Conv1×1_{c→c}(mean_{H,W} t)               (simplified channel attention)
        y = x + β · Conv1×1_{c→c}(t)
        u = Conv1×1_{c→2c}(LayerNorm(y));  u = u[..., :c] · u[..., c:]
        out = y + γ · Conv1×1_{c→c}(u)                    (β, γ: per-channel, zero at init)

    NAFNet: intro Conv3×3 → width; per level i: enc_blocks[i] × NAFBlock, skip, Conv2×2/2 (c→2c);
    middle_blocks × NAFBlock; per level, deepest first: Conv1×1 (c→2c, no bias) + pixel shuffle
    ×2 (→ c/2), add the skip, dec_blocks[i] × NAFBlock; ending Conv3×3 → 3; out = x[..., :3] + .

The defaults are the paper's SIDD configuration at width 32 (29,159,715 parameters;
`PAPER_CONFIGS` lists the released ones with their counts, equal to the official code's).
Any H, W: zero-padded at the bottom and right to a multiple of 2**len(enc_blocks), as the
official code does, and cropped back. Parameter names follow the official PyTorch module
(`encoders_{i}_{j}` is `encoders.i.j`), which is what `jaxshadow.weights_import` maps.
Output {"shadow_free": (N, H, W, 3) float32}; no batch statistics, no dropout. (The released
GoPro models are tested with NAFNet's TLC local pooling, which this module does not do.)
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxshadow.models.layers import Conv

# The configurations of the paper's released models, as in the official option files, and
# their parameter counts (with 3 input channels).
PAPER_CONFIGS = {
    "sidd-width32": dict(width=32, enc_blocks=(2, 2, 4, 8), middle_blocks=12,
                         dec_blocks=(2, 2, 2, 2), params=29_159_715),
    "sidd-width64": dict(width=64, enc_blocks=(2, 2, 4, 8), middle_blocks=12,
                         dec_blocks=(2, 2, 2, 2), params=115_982_915),
    "gopro-width32": dict(width=32, enc_blocks=(1, 1, 1, 28), middle_blocks=1,
                          dec_blocks=(1, 1, 1, 1), params=17_111_907),
    "gopro-width64": dict(width=64, enc_blocks=(1, 1, 1, 28), middle_blocks=1,
                          dec_blocks=(1, 1, 1, 1), params=67_888_835),
}


def simple_gate(x):
    """(…, 2c) -> (…, c): the first half of the channels times the second."""
    a, b = jnp.split(x, 2, axis=-1)
    return a * b


def pixel_shuffle(x, factor=2):
    """Depth to space as torch's PixelShuffle orders it: (N, H, W, C·f²) -> (N, fH, fW, C) with
    out[n, f·h + i, f·w + j, c] = x[n, h, w, c·f² + i·f + j]."""
    n, h, w, c = x.shape
    c_out = c // (factor * factor)
    x = x.reshape(n, h, w, c_out, factor, factor)
    return x.transpose(0, 1, 4, 2, 5, 3).reshape(n, h * factor, w * factor, c_out)


class NAFBlock(nn.Module):
    """(N, H, W, c) -> (N, H, W, c); see the module docstring."""

    dw_expand: int = 2
    ffn_expand: int = 2
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)

        def norm(name):
            return nn.LayerNorm(epsilon=1e-6, use_fast_variance=False, name=name, **kw)

        dw = c * self.dw_expand
        t = Conv(dw, (1, 1), name="conv1", **kw)(norm("norm1")(x))
        t = Conv(dw, (3, 3), padding=1, feature_group_count=dw, name="conv2", **kw)(t)
        t = simple_gate(t)
        pooled = jnp.mean(t.astype(jnp.float32), axis=(1, 2), keepdims=True).astype(t.dtype)
        t = t * Conv(dw // 2, (1, 1), name="sca", **kw)(pooled)
        t = Conv(c, (1, 1), name="conv3", **kw)(t)
        beta = self.param("beta", nn.initializers.zeros, (c,), self.param_dtype)
        y = x + t * beta.astype(t.dtype)

        u = Conv(self.ffn_expand * c, (1, 1), name="conv4", **kw)(norm("norm2")(y))
        u = Conv(c, (1, 1), name="conv5", **kw)(simple_gate(u))
        gamma = self.param("gamma", nn.initializers.zeros, (c,), self.param_dtype)
        return y + u * gamma.astype(u.dtype)


class NAFNet(nn.Module):
    """x (N, H, W, C ≥ 3) float -> {"shadow_free": (N, H, W, 3) float32}; see the module
    docstring. Extra input channels (e.g. a mask) are conditioning only."""

    width: int = 32
    enc_blocks: Sequence[int] = (2, 2, 4, 8)
    middle_blocks: int = 12
    dec_blocks: Sequence[int] = (2, 2, 2, 2)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if len(self.enc_blocks) != len(self.dec_blocks):
            raise ValueError(f"enc_blocks {tuple(self.enc_blocks)} and dec_blocks "
                             f"{tuple(self.dec_blocks)} need the same number of levels")
        x = jnp.asarray(x, jnp.float32)
        n, h, w, _ = x.shape
        multiple = 2 ** len(self.enc_blocks)
        padded = jnp.pad(x, ((0, 0), (0, -h % multiple), (0, -w % multiple), (0, 0)))
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)

        y = Conv(self.width, (3, 3), padding=1, name="intro", **kw)(padded.astype(self.dtype))
        skips = []
        for i, count in enumerate(self.enc_blocks):
            for j in range(count):
                y = NAFBlock(name=f"encoders_{i}_{j}", **kw)(y)
            skips.append(y)
            y = Conv(2 * y.shape[-1], (2, 2), strides=2, padding="VALID", name=f"downs_{i}",
                     **kw)(y)
        for j in range(self.middle_blocks):
            y = NAFBlock(name=f"middle_blks_{j}", **kw)(y)
        for i, count in enumerate(self.dec_blocks):
            y = Conv(2 * y.shape[-1], (1, 1), use_bias=False, name=f"ups_{i}", **kw)(y)
            y = pixel_shuffle(y) + skips[-1 - i]
            for j in range(count):
                y = NAFBlock(name=f"decoders_{i}_{j}", **kw)(y)
        y = Conv(3, (3, 3), padding=1, name="ending", **kw)(y)
        y = y.astype(jnp.float32) + padded[..., :3]
        return {"shadow_free": y[:, :h, :w, :]}
