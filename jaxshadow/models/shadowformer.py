"""ShadowFormer (Guo, Huang, Liu, Cheng and Wen, "ShadowFormer: Global Context Helps Image
Shadow Removal", AAAI 2023): a Uformer-style U-Net of window transformer blocks, with the
shadow mask steering attention between shadow and lit pixels.

Input x (N, H, W, 4): RGB in [0, 1] and the shadow mask (1 = shadow) as the fourth channel
(`data.mask_input=True`; `predict` takes the mask from the shipped detector). Output
{"shadow_free": (N, H, W, 3) float32} = RGB + OutputProj(...).

    InputProj     Conv3×3 (RGB + mask -> C) + LeakyReLU(0.01)
    encoder 0, 1  CA blocks (C, 2C), each level then Conv4×4/2 (c -> 2c)
    encoder 2     SIM blocks (4C), Conv4×4/2 -> 8C
    bottleneck    SIM blocks (8C)
    decoder 0     ConvTranspose2×2/2 (8C -> 4C), concat the skip -> SIM blocks (8C)
    decoder 1, 2  ConvTranspose2×2/2 (-> 2C, C), concat the skip -> CA blocks (4C, 2C)
    OutputProj    Conv3×3 (2C -> 3)

    CA block  (x: (N, H, W, c)):  x = x + CAB(LN(x));  x = x + LeFF(LN(x))
    SIM block:                    x = x + CAB(SIA(LN(x)));  x = x + LeFF(LN(x))
    CAB(x)  = x + CA(Conv3×3(PReLU(Conv3×3(x))))        (no biases; CA: sigmoid gate from the
              spatial mean through Conv1×1 c -> c/4, ReLU, Conv1×1 c/4 -> c)
    LeFF(x) = Dense_{4c->c}(GELU(DWConv3×3(GELU(Dense_{c->4c}(x)))))

SIA, shadow-interaction attention, in (shifted) windows of win_size² tokens, per head:

    A = softmax((q kᵀ / √d) ⊙ M + B + S),  M_ij = 1 if exactly one of pixels i, j is shadow
    (mask ≥ 0.1) else 0.2,  B: learned relative position bias,  S: -100 across the regions a
    cyclic shift brought together (the odd blocks shift by win_size // 2).

The mask follows the encoder down by 2×2 max-pooling. Depths are two blocks per stage; heads
(1, 2, 4, 16, 8, 4, 2) for (enc 0-2, bottleneck, dec 0-2); MLP ratio 4; stochastic depth
rising linearly to `drop_path` over the encoder (and mirrored in the decoder), 0.1 at the
bottleneck, active in training only (rng "dropout"). 11,372,617 parameters at embed_dim 32,
win_size 10 (the paper's ISTD model, "11.4 M"); 11,365,001 at win_size 8.

Any H, W: image and mask are reflect-padded at the bottom and right to a multiple of
8·win_size (the official code requires that size) and the output is cropped back. Parameter
names follow the official PyTorch module, which `jaxshadow.weights_import` maps.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow.models.layers import Conv, ConvTranspose2x2, max_pool_2x2

ENCODER_HEADS = (1, 2, 4)
BOTTLENECK_HEADS = 16
DECODER_HEADS = (8, 4, 2)
DEPTH = 2  # blocks per stage
MASK_THRESHOLD = 0.1  # the official code's: mask values ≥ 0.1 are shadow


def relative_position_index(win):
    """(win², win²) int index into the (2·win - 1)² bias table: token i = (hi, wi), j = (hj, wj)
    -> (hi - hj + win - 1)·(2·win - 1) + (wi - wj + win - 1)."""
    coords = np.stack(np.meshgrid(np.arange(win), np.arange(win), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :] + win - 1
    return rel[0] * (2 * win - 1) + rel[1]


def shift_region_mask(height, width, win, shift):
    """(windows, win², win²) float32: 0 between tokens of one region of the cyclically shifted
    image, -100 between tokens the shift brought together from different regions."""
    labels = np.zeros((height, width), np.float32)
    bounds = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
    for i, rows in enumerate(bounds):
        for j, cols in enumerate(bounds):
            labels[rows, cols] = 3 * i + j
    windows = labels.reshape(height // win, win, width // win, win).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, win * win)
    return np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0).astype(np.float32)


def to_windows(x, win):
    """(N, H, W, C) -> (N·H/win·W/win, win², C), windows in row-major order."""
    n, h, w, c = x.shape
    x = x.reshape(n, h // win, win, w // win, win, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, win * win, c)


def from_windows(windows, n, h, w, win):
    """The inverse of `to_windows`: (N·H/win·W/win, win², C) -> (N, H, W, C)."""
    c = windows.shape[-1]
    x = windows.reshape(n, h // win, w // win, win, win, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h, w, c)


class DropPath(nn.Module):
    """Stochastic depth: in training, each example's residual branch is zeroed with
    probability `rate` and the rest scaled by 1 / (1 - rate); identity otherwise."""

    rate: float

    @nn.compact
    def __call__(self, x, train):
        if not train or self.rate == 0.0:
            return x
        keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - self.rate,
                                    (x.shape[0],) + (1,) * (x.ndim - 1))
        return jnp.where(keep, x / (1.0 - self.rate), 0.0).astype(x.dtype)


class ChannelAttentionBlock(nn.Module):
    """CAB: (N, H, W, c) -> (N, H, W, c), see the module docstring."""

    reduction: int = 4
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype, use_bias=False)
        t = Conv(c, (3, 3), padding=1, name="body_0", **kw)(x)
        slope = self.param("body_1", nn.initializers.constant(0.25), (1,), self.param_dtype)
        t = jnp.where(t >= 0, t, slope.astype(t.dtype) * t)
        t = Conv(c, (3, 3), padding=1, name="body_2", **kw)(t)
        pooled = jnp.mean(t.astype(jnp.float32), axis=(1, 2), keepdims=True).astype(t.dtype)
        gate = Conv(c // self.reduction, (1, 1), name="CA_conv_du_0", **kw)(pooled)
        gate = Conv(c, (1, 1), name="CA_conv_du_2", **kw)(nn.relu(gate))
        return x + t * nn.sigmoid(gate)


class LocallyEnhancedFeedForward(nn.Module):
    """LeFF: (N, H, W, c) -> (N, H, W, c), hidden width `ratio`·c."""

    ratio: int = 4
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        hidden = self.ratio * c
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        dense_init = nn.initializers.truncated_normal(0.02)
        t = nn.gelu(nn.Dense(hidden, kernel_init=dense_init, name="linear1", **kw)(x),
                    approximate=False)
        t = Conv(hidden, (3, 3), padding=1, feature_group_count=hidden, name="dwconv",
                 **kw)(t)
        t = nn.gelu(t, approximate=False)
        return nn.Dense(c, kernel_init=dense_init, name="linear2", **kw)(t)


class ShadowInteractionAttention(nn.Module):
    """SIA over windows: x (B, win², c), shadow (B, win², 1) bool, region mask (windows, win²,
    win²) or None (B = N·windows) -> (B, win², c); see the module docstring."""

    heads: int
    win: int
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, shadow, region_mask):
        b, t, c = x.shape
        d = c // self.heads
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype,
                  kernel_init=nn.initializers.truncated_normal(0.02))
        q = nn.Dense(c, name="qkv_to_q", **kw)(x).reshape(b, t, self.heads, d)
        kv = nn.Dense(2 * c, name="qkv_to_kv", **kw)(x).reshape(b, t, 2, self.heads, d)
        k, v = kv[:, :, 0], kv[:, :, 1]
        logits = jnp.einsum("bihd,bjhd->bhij", q * d ** -0.5, k)
        interaction = jnp.where(shadow != jnp.swapaxes(shadow, 1, 2), 1.0, 0.2)  # (B, T, T)
        logits = logits * interaction[:, None].astype(logits.dtype)
        table = self.param("relative_position_bias_table", nn.initializers.truncated_normal(0.02),
                           ((2 * self.win - 1) ** 2, self.heads), self.param_dtype)
        bias = table[relative_position_index(self.win).reshape(-1)].reshape(t, t, self.heads)
        logits = logits.astype(jnp.float32) + bias.transpose(2, 0, 1)[None]
        if region_mask is not None:
            windows = region_mask.shape[0]
            logits = (logits.reshape(b // windows, windows, self.heads, t, t)
                      + region_mask[None, :, None]).reshape(b, self.heads, t, t)
        weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        y = jnp.einsum("bhij,bjhd->bihd", weights, v).reshape(b, t, c)
        return nn.Dense(c, name="proj", **kw)(y)


class ShadowFormerBlock(nn.Module):
    """One CA block (`attention=False`) or SIM block: x (N, H, W, c), mask (N, H, W, 1) ->
    (N, H, W, c); H and W multiples of `win`."""

    heads: int
    win: int
    shift: int
    attention: bool
    drop_path: float = 0.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask, train=False):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        drop = DropPath(self.drop_path)
        t = nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name="norm1", **kw)(x)
        if self.attention:
            t = self._attend(t, mask, kw)
        t = ChannelAttentionBlock(name="CAB", **kw)(t)
        x = x + drop(t, train)
        t = nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name="norm2", **kw)(x)
        return x + drop(LocallyEnhancedFeedForward(name="mlp", **kw)(t), train)

    def _attend(self, t, mask, kw):
        n, h, w, _ = t.shape
        region_mask = None
        if self.shift:
            t = jnp.roll(t, (-self.shift, -self.shift), axis=(1, 2))
            mask = jnp.roll(mask, (-self.shift, -self.shift), axis=(1, 2))
            region_mask = jnp.asarray(shift_region_mask(h, w, self.win, self.shift))
        shadow = to_windows(mask, self.win) >= MASK_THRESHOLD
        y = ShadowInteractionAttention(self.heads, self.win, name="attn", **kw)(
            to_windows(t, self.win), shadow, region_mask)
        y = from_windows(y, n, h, w, self.win)
        if self.shift:
            y = jnp.roll(y, (self.shift, self.shift), axis=(1, 2))
        return y


class ShadowFormerStage(nn.Module):
    """`depth` blocks, the odd ones on windows shifted by win // 2."""

    heads: int
    win: int
    attention: bool
    drop_paths: tuple
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask, train=False):
        for i, rate in enumerate(self.drop_paths):
            x = ShadowFormerBlock(self.heads, self.win, (i % 2) * (self.win // 2), self.attention,
                                  rate, self.dtype, self.param_dtype, name=f"blocks_{i}")(
                                      x, mask, train)
        return x


class ShadowFormer(nn.Module):
    """x (N, H, W, 4) RGB + mask -> {"shadow_free": (N, H, W, 3) float32}; see the module
    docstring."""

    embed_dim: int = 32
    win_size: int = 10
    drop_path: float = 0.1
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if x.shape[-1] != 4:
            raise ValueError(f"shadowformer reads RGB + shadow mask (4 channels; set "
                             f"data.mask_input=True), got {x.shape[-1]} channels")
        x = jnp.asarray(x, jnp.float32)
        n, h, w, _ = x.shape
        multiple = 8 * self.win_size
        padded = jnp.pad(x, ((0, 0), (0, -h % multiple), (0, -w % multiple), (0, 0)),
                         mode="reflect" if min(h, w) > 1 else "edge")
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        c, win = self.embed_dim, self.win_size
        encoder_rates = np.linspace(0.0, self.drop_path, 4 * DEPTH).tolist()
        decoder_rates = encoder_rates[::-1]

        def stage(name, heads, attention, rates):
            return ShadowFormerStage(heads, win, attention, tuple(rates), name=name, **kw)

        masks = [padded[..., 3:]]
        for _ in range(3):
            masks.append(max_pool_2x2(masks[-1]))
        y = Conv(c, (3, 3), padding=1, name="input_proj", **kw)(padded.astype(self.dtype))
        y = nn.leaky_relu(y, 0.01)
        skips = []
        for i in range(3):
            y = stage(f"encoderlayer_{i}", ENCODER_HEADS[i], i == 2,
                      encoder_rates[DEPTH * i:DEPTH * (i + 1)])(y, masks[i], train)
            skips.append(y)
            y = Conv(2 * y.shape[-1], (4, 4), strides=2, padding=1, name=f"dowsample_{i}",
                     **kw)(y)
        y = stage("conv", BOTTLENECK_HEADS, True, [self.drop_path] * DEPTH)(y, masks[3], train)
        for i in range(3):
            y = ConvTranspose2x2(skips[2 - i].shape[-1], name=f"upsample_{i}", **kw)(y)
            y = jnp.concatenate([y, skips[2 - i]], axis=-1)
            y = stage(f"decoderlayer_{i}", DECODER_HEADS[i], i == 0,
                      decoder_rates[DEPTH * (i + 1):DEPTH * (i + 2)])(y, masks[2 - i], train)
        y = Conv(3, (3, 3), padding=1, name="output_proj", **kw)(y)
        y = y.astype(jnp.float32) + padded[..., :3]
        return {"shadow_free": y[:, :h, :w, :]}
