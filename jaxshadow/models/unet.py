"""U-Net (Ronneberger et al., 2015) with GroupNorm, predicting a residual on the RGB input.

Layers, for `features=(32, 64, 128, 256)` (names as in the parameter tree):

    enc0..enc3   ConvBlock(f) for f in features, each followed by a 2×2 max-pool
    bottleneck   ConvBlock(2 × features[-1]) = 512 channels
    up3..up0     ConvTranspose f, 2×2, stride 2 (with bias): doubles H, W, channels -> f
                 (`layers.ConvTranspose2x2`: the same function and parameters as a matmul)
    dec3..dec0   concatenate [up, skip] (2f channels) -> ConvBlock(f)
    head         Conv out_channels 1×1 (with bias)
    ConvBlock(f) = 2 × [Conv f 3×3 SAME (with bias) -> GroupNorm(8 groups, scale + bias) -> ReLU]
                 (`group_norm.GroupNorm`: flax's GroupNorm with a faster backward pass)

7,766,051 parameters with 3 input channels, 7,766,339 with 4 (RGB + mask).

Any H, W: inputs are reflect-padded at the bottom and right to a multiple of 2**len(features)
and the output is cropped back, so (N, H, W, C) -> (N, H, W, out_channels).
residual=True: y = x[..., :3] + head(...) (needs out_channels == 3; extra input channels such as
a mask are conditioning only); residual=False: y = head(...) (raw output, e.g. mask logits).
global_context=True: after the bottleneck, y <- relu(y + Dense(mean over H, W of y)), a
per-image feature added at every position (262,656 more parameters at the default widths).
No batch statistics: `train` changes nothing and there are no mutable collections.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxshadow.models.group_norm import GroupNorm
from jaxshadow.models.layers import ConvTranspose2x2, conv_general_dilated, forms, max_pool_2x2


class ConvBlock(nn.Module):
    """2 × [Conv 3×3 SAME with bias -> GroupNorm(8) -> ReLU]: (N, H, W, C) -> (N, H, W, f)."""

    features: int
    groups: int = 8
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        norm = nn.GroupNorm if forms().group_norm == "lax" else GroupNorm  # same parameters
        for i in range(2):
            x = nn.Conv(self.features, (3, 3), padding="SAME", dtype=self.dtype,
                        param_dtype=self.param_dtype, name=f"conv{i}",
                        conv_general_dilated=conv_general_dilated)(x)
            x = norm(num_groups=self.groups, dtype=self.dtype, param_dtype=self.param_dtype,
                     name=f"norm{i}")(x)
            x = nn.relu(x)
        return x


class UNet(nn.Module):
    """U-Net: x (N, H, W, C) float -> (N, H, W, out_channels) float32; see the module docstring."""

    features: Sequence[int] = (32, 64, 128, 256)
    out_channels: int = 3
    residual: bool = True
    zero_head: bool | None = None  # zero-initialised head (output 0 at init); default: residual
    global_context: bool = False  # add a per-image feature (bottleneck mean -> Dense) everywhere
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if self.residual and self.out_channels != 3:
            raise ValueError(f"residual=True adds to the RGB input: out_channels must be 3, "
                             f"got {self.out_channels}")
        x = jnp.asarray(x, jnp.float32)
        n, h, w, _ = x.shape
        multiple = 2 ** len(self.features)
        pad_h, pad_w = -h % multiple, -w % multiple
        y = x
        if pad_h or pad_w:
            y = jnp.pad(y, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        y = y.astype(self.dtype)

        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        skips = []
        for i, f in enumerate(self.features):
            y = ConvBlock(f, name=f"enc{i}", **kw)(y, train)
            skips.append(y)
            y = max_pool_2x2(y)
        y = ConvBlock(2 * self.features[-1], name="bottleneck", **kw)(y, train)
        if self.global_context:
            pooled = jnp.mean(y.astype(jnp.float32), axis=(1, 2))  # (N, C)
            context = nn.Dense(y.shape[-1], name="context", **kw)(pooled)
            y = nn.relu(y + context[:, None, None, :].astype(y.dtype))
        for i in reversed(range(len(self.features))):
            f = self.features[i]
            y = ConvTranspose2x2(f, name=f"up{i}", **kw)(y)
            y = jnp.concatenate([y, skips[i]], axis=-1)
            y = ConvBlock(f, name=f"dec{i}", **kw)(y, train)
        # A residual network starts as the identity: its head is zero-initialised.
        zero_head = self.residual if self.zero_head is None else self.zero_head
        init = nn.initializers.zeros if zero_head else nn.initializers.lecun_normal()
        y = nn.Conv(self.out_channels, (1, 1), kernel_init=init, name="head", **kw)(y)

        y = y[:, :h, :w, :].astype(jnp.float32)
        return x[..., :3] + y if self.residual else y


class ShadowRemovalUNet(UNet):
    """The registry's "unet": `UNet` as a removal model, x (N, H, W, C) -> {"shadow_free":
    (N, H, W, 3)}, the one output type of every removal model (the parameters are UNet's)."""

    def __call__(self, x, train: bool = False):
        return {"shadow_free": super().__call__(x, train)}
