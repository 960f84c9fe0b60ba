"""Joint detection and removal: no mask needed at inference.

    logits = detector(x)                           ShadowDetector, (N, H, W, 1)
    m      = sigmoid(logits)                       soft shadow mask in [0, 1]
    y      = remover(concat[x_rgb, m])             UNet on 4 channels, y = x_rgb + f([x_rgb, m])

Both parts train end to end (the removal loss also reaches the detector through m; add
`losses.mask_bce` when ground-truth masks exist). 9,710,388 parameters with the default features
(detector 1,944,049 + remover 7,766,339).

x: (N, H, W, 3) (extra channels are ignored) -> {"shadow_free": (N, H, W, 3) float32,
"mask_logits": (N, H, W, 1) float32}. Unlike `UNet` (an array) and `ShadowDetector` (a logits
array), this model returns a dict.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxshadow.models.detector import ShadowDetector
from jaxshadow.models.unet import UNet


class JointRemover(nn.Module):
    """x (N, H, W, 3) -> {"shadow_free": (N, H, W, 3), "mask_logits": (N, H, W, 1)}, float32."""

    detector_features: Sequence[int] = (16, 32, 64, 128)
    remover_features: Sequence[int] = (32, 64, 128, 256)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        rgb = jnp.asarray(x, jnp.float32)[..., :3]
        logits = ShadowDetector(features=self.detector_features, name="detector", **kw)(rgb, train)
        mask = jax.nn.sigmoid(logits)
        remover = UNet(features=self.remover_features, out_channels=3, residual=True,
                       name="remover", **kw)
        shadow_free = remover(jnp.concatenate([rgb, mask], axis=-1), train)
        return {"shadow_free": shadow_free, "mask_logits": logits}
