"""Joint detection and removal: no mask needed at inference.

    logits = detector(x)                            ShadowDetector, (N, H, W, 1)
    m      = sigmoid(logits)                        soft shadow mask in [0, 1]

then, by `output`:

- ``"affine"`` (default): the remover predicts a per-pixel colour gain and offset, applied where
  the mask says there is shadow (the shadow-matting model of SP+M-Net, Le & Samaras 2019,
  with a per-pixel instead of a per-image affine):

      g, b = remover(concat[x_rgb, m])              UNet, 6 channels, zero-initialised head
      y    = x_rgb + m * (x_rgb * (exp(G tanh(g / G)) - 1) + b),   G = max_log_gain

  A shadow is (close to) an affine darkening of the lit colours, so inside an umbra `g` and
  `b` are nearly constant while the image varies: the remover learns a smooth field instead of
  the texture, and lit pixels (m = 0) pass through unchanged. The gain is at most exp(G).
- ``"residual"``: y = x_rgb + f(concat[x_rgb, m]) (UNet with a residual head).

Options (all off by default, all on in `configs/demo.py`):

- ``shadow_params`` (affine only): add per-image coefficients from `ShadowParameters` to every
  pixel's (g, b), the per-image shadow model of SP+M-Net, refined per pixel by the remover;
  16,326 parameters.
- ``boundary_moments`` (with shadow_params): `ShadowParameters` also sees the colour moments
  of both sides of the shadow's boundary and adds their moment-matching estimate of the
  per-image affine (`boundary_moments`); 774 parameters more.
- ``global_context``: the remover's bottleneck gets a per-image feature (`UNet.global_context`).
- ``detector_global_context``: the same for the detector (`ShadowDetector.global_context`).
- ``illumination_features``: the detector also sees chromaticity and log intensity
  (`ShadowDetector.illumination_features`).
- ``mask_perturbation`` (a rate in [0, 1], 0 by default): in training, that fraction of the
  images give the remover a mask with false and missed regions added
  (`mask_perturbation.perturb_mask`, drawn from the "dropout" rng), so it learns to correct
  where the image shows a shadow rather than wherever the detector says; the detector's logits
  and evaluation are unchanged.

Both start as the identity (zero-initialised heads) and train end to end: the removal loss
also reaches the detector through m; add `losses.mask_bce` when ground-truth masks exist.
9,710,388 parameters with the default features and output="residual" (detector 1,944,049 +
remover 7,766,339); "affine" adds 3 × (32 + 1) = 99 for the wider head: 9,710,487; with all
three options 9,990,045.

x: (N, H, W, 3) (extra channels are ignored) -> {"shadow_free": (N, H, W, 3) float32,
"mask_logits": (N, H, W, 1) float32, "gain", "offset": (N, H, W, 3) float32}, with
``shadow_free = x_rgb * gain + offset``: the correction as two smooth maps (for "affine",
``gain = 1 + m (exp(G tanh(g / G)) - 1)`` and ``offset = m b``; for "residual", gain 1 and the
residual as offset), which `predict` computes at a working resolution and upsamples. Unlike
`UNet` (an array) and `ShadowDetector` (a logits array), this model returns a dict.

``mask=`` (N, H, W, 1) in [0, 1], optional: condition the remover on this mask instead of the
detector's (to measure the remover alone with a ground-truth mask); the logits are unchanged.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow.models.detector import ShadowDetector
from jaxshadow.models.mask_perturbation import perturb_mask
from jaxshadow.models.unet import UNet

OUTPUTS = ("affine", "residual")


def box_mean(x, window):
    """Mean of x (N, H, W, C) over a `window` × `window` box around each pixel (odd window),
    over the pixels inside the image only (so a constant image stays constant at the borders).

    The box sums come from `lax.reduce_window`; the in-image pixel counts depend only on H, W
    and are computed in NumPy (constants that XLA would otherwise fold slowly).
    """
    r = window // 2
    _, h, w, _ = x.shape
    sums = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, window, window, 1), (1, 1, 1, 1),
                                 ((0, 0), (r, r), (r, r), (0, 0)))

    def counts(n):
        i = np.arange(n)
        return np.minimum(i + r, n - 1) - np.maximum(i - r, 0) + 1

    count = np.outer(counts(h), counts(w)).astype(np.float32)[None, :, :, None]
    return sums / count


def boundary_moments(rgb, mask, window=15, floor=0.05):
    """Per-channel mean and standard deviation of the shadow and the lit side of its boundary.

    rgb (N, H, W, 3), mask (N, H, W, 1) in [0, 1] -> four (N, 3) arrays (mean_s, std_s, mean_l,
    std_l). Pixels are weighted by their closeness to the boundary, near = 4 b (1 - b) with b
    the mask box-averaged over `window` pixels (1 on the edge, 0 far from it), plus `floor`
    so a region without boundary still has statistics: shadow weights m (near + floor), lit
    weights (1 - m)(near + floor). Across a boundary the surfaces are alike, so matching the
    shadow side's moments to the lit side's estimates the shadow's per-channel affine map.
    """
    blurred = box_mean(mask, window)
    near = 4.0 * blurred * (1.0 - blurred) + floor
    eps = 1e-3

    def moments(weights):
        total = jnp.sum(weights, axis=(1, 2)) + eps
        mean = jnp.sum(rgb * weights, axis=(1, 2)) / total
        var = jnp.sum(jnp.square(rgb - mean[:, None, None]) * weights, axis=(1, 2)) / total
        return mean, jnp.sqrt(var + 1e-6)

    return (*moments(mask * near), *moments((1.0 - mask) * near))


class ShadowParameters(nn.Module):
    """Per-image shadow parameters: (rgb, mask) -> (N, 6) log-gains and offsets (zero at init).

    Features of [rgb, log rgb] are averaged separately over the shadow (weights m) and the lit
    region (1 - m); an MLP maps the two means to 3 log-gains and 3 offsets per image.

    With `moments`, the MLP also sees `boundary_moments` (as means and log standard
    deviations), and their closed-form moment-matching estimate, log-gain log(std_l / std_s)
    and offset mean_l - (std_l / std_s) mean_s, is added with a learned per-coefficient scale
    (zero at init).
    """

    features: int = 32
    moments: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, rgb, mask):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        log_rgb = jnp.log(rgb + 1.0 / 255.0)
        y = jnp.concatenate([rgb, log_rgb], axis=-1)
        for i in range(2):  # two stride-2 convs: features at 1/4 resolution
            y = nn.relu(nn.Conv(self.features, (3, 3), strides=2, padding="SAME",
                                name=f"conv{i}", **kw)(y))
        n, h, w, _ = y.shape

        def quarter(a):  # (N, H, W, C) -> (N, h, w, C): box average onto the feature grid
            return jax.image.resize(a, (n, h, w, a.shape[-1]), "linear", antialias=True)

        full_mask, mask = mask, quarter(mask)
        y = jnp.concatenate([y, quarter(rgb), quarter(log_rgb)], axis=-1).astype(jnp.float32)
        eps = 1e-3

        def masked_mean(weights):
            return jnp.sum(y * weights, axis=(1, 2)) / (jnp.sum(weights, axis=(1, 2)) + eps)

        pooled = jnp.concatenate([masked_mean(mask), masked_mean(1.0 - mask)], axis=-1)
        if self.moments:
            mean_s, std_s, mean_l, std_l = boundary_moments(rgb, full_mask)
            log_ratio = jnp.log(std_l) - jnp.log(std_s)
            pooled = jnp.concatenate([pooled, mean_s, mean_l, jnp.log(std_s), jnp.log(std_l)],
                                     axis=-1)
        hidden = nn.relu(nn.Dense(64, name="hidden", **kw)(pooled))
        out = nn.Dense(6, kernel_init=nn.initializers.zeros, name="out", **kw)(hidden)
        if self.moments:
            estimate = jnp.concatenate([log_ratio, mean_l - jnp.exp(log_ratio) * mean_s], -1)
            scale = self.param("estimate_scale", nn.initializers.zeros, (6,), jnp.float32)
            out = out + scale * estimate
        return out


class JointRemover(nn.Module):
    """x (N, H, W, 3) -> {"shadow_free": (N, H, W, 3), "mask_logits": (N, H, W, 1)}, float32."""

    detector_features: Sequence[int] = (16, 32, 64, 128)
    remover_features: Sequence[int] = (32, 64, 128, 256)
    output: str = "affine"
    max_log_gain: float = 2.5
    global_context: bool = False
    detector_global_context: bool = False
    shadow_params: bool = False
    illumination_features: bool = False
    boundary_moments: bool = False
    mask_perturbation: float = 0.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False, mask=None):
        if self.output not in OUTPUTS:
            raise ValueError(f"JointRemover.output must be one of {OUTPUTS}, got {self.output!r}")
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        rgb = jnp.asarray(x, jnp.float32)[..., :3]
        logits = ShadowDetector(features=self.detector_features,
                                illumination_features=self.illumination_features,
                                global_context=self.detector_global_context,
                                name="detector", **kw)(rgb, train)
        mask = jax.nn.sigmoid(logits) if mask is None else jnp.asarray(mask, jnp.float32)
        if train and self.mask_perturbation > 0:
            mask = perturb_mask(self.make_rng("dropout"), mask, self.mask_perturbation)
        if self.output == "residual":
            conditioned = jnp.concatenate([rgb, mask], axis=-1)
            shadow_free = UNet(features=self.remover_features, out_channels=3, residual=True,
                               name="remover", **kw)(conditioned, train)
            gain, offset = jnp.ones_like(rgb), shadow_free - rgb
        else:
            conditioned = jnp.concatenate([rgb, mask], axis=-1)
            coefficients = UNet(features=self.remover_features, out_channels=6, residual=False,
                                zero_head=True, global_context=self.global_context,
                                name="remover", **kw)(conditioned, train)
            if self.shadow_params:
                coefficients = coefficients + ShadowParameters(moments=self.boundary_moments,
                                                               name="shadow_params", **kw)(
                    rgb, mask)[:, None, None, :]
            g = self.max_log_gain
            log_gain = g * jnp.tanh(coefficients[..., :3] / g)
            offset = coefficients[..., 3:]
            gain, offset = 1.0 + mask * jnp.expm1(log_gain), mask * offset
            shadow_free = rgb * gain + offset
        return {"shadow_free": shadow_free, "mask_logits": logits, "gain": gain,
                "offset": offset}
