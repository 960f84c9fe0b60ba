"""Shadow detector: a smaller U-Net that predicts per-pixel shadow-mask logits.

`UNet(features=(16, 32, 64, 128), out_channels=1, residual=False)`, held as the submodule
"unet": 1,944,049 parameters on RGB input. x: (N, H, W, 3) -> logits (N, H, W, 1) float32, any
H, W; sigmoid(logits) is the shadow probability (the loss is `losses.mask_bce` on the logits).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxshadow.models.unet import UNet


class ShadowDetector(nn.Module):
    """x (N, H, W, C) -> mask logits (N, H, W, 1) float32."""

    features: Sequence[int] = (16, 32, 64, 128)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        unet = UNet(features=self.features, out_channels=1, residual=False, dtype=self.dtype,
                    param_dtype=self.param_dtype, name="unet")
        return unet(x, train)
