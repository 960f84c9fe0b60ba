"""Shadow detector: a smaller U-Net that predicts per-pixel shadow-mask logits.

`UNet(features=(16, 32, 64, 128), out_channels=1, residual=False)`, held as the submodule
"unet": 1,944,049 parameters on RGB input. x: (N, H, W, 3) -> logits (N, H, W, 1) float32, any
H, W; sigmoid(logits) is the shadow probability (the loss is `losses.mask_bce` on the logits).

`illumination_features=True` appends, per pixel, the chromaticity rgb / (r + g + b + 0.03) and
the log intensity log((r + g + b) / 3 + 1/255) to the input (7 channels, 1,944,625 parameters):
a shadow changes intensity far more than chromaticity, and a dark object changes both.

`global_context=True` adds the U-Net's per-image feature at the bottleneck (`UNet`; 65,792
parameters more at the default features): whether a dark region is a shadow depends on the
scene's light as a whole (how strong and how blue the shadows are elsewhere in the image).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxshadow.models.unet import UNet


class ShadowDetector(nn.Module):
    """x (N, H, W, C) -> mask logits (N, H, W, 1) float32."""

    features: Sequence[int] = (16, 32, 64, 128)
    illumination_features: bool = False
    global_context: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        unet = UNet(features=self.features, out_channels=1, residual=False,
                    global_context=self.global_context, dtype=self.dtype,
                    param_dtype=self.param_dtype, name="unet")
        if self.illumination_features:
            rgb = jnp.asarray(x, jnp.float32)[..., :3]
            total = jnp.sum(rgb, axis=-1, keepdims=True)
            x = jnp.concatenate([x, rgb / (total + 0.03), jnp.log(total / 3.0 + 1.0 / 255.0)],
                                axis=-1)
        return unet(x, train)
