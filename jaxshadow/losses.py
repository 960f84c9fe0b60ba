"""Training losses: small pure functions, each returning a float32 scalar averaged over the batch.

Images are float NHWC sRGB in [0, 1]; masks are (N, H, W) or (N, H, W, 1) in [0, 1]
(1 = shadow). `removal_loss` weighs the terms by name; the names in `TERMS` are config keys,
keep them stable.
"""

import jax
import jax.numpy as jnp
import optax

from jaxshadow.color import rgb_to_lab
from jaxshadow.metrics import ssim

TERMS = ("l1", "charbonnier", "psnr", "ssim", "lab_l1", "mask_bce", "mask_bce_balanced")


def _f32(x):
    return jnp.asarray(x, jnp.float32)


def l1(pred, target):
    """Mean absolute error: mean |p - t| over N, H, W, C."""
    return jnp.mean(jnp.abs(_f32(pred) - _f32(target)))


def charbonnier(pred, target, eps=1e-3):
    """Charbonnier (smooth L1): mean sqrt((p - t)^2 + eps^2) over N, H, W, C.

    Equals eps (not 0) for identical images and ~|p - t| where |p - t| >> eps; unlike L1 its
    gradient is continuous at p = t.
    """
    d = _f32(pred) - _f32(target)
    return jnp.mean(jnp.sqrt(d * d + eps * eps))


def psnr_loss(pred, target, eps=1e-8):
    """Negative PSNR (NAFNet's training loss), in dB: mean over images n of
    10 · log10(mean_{H,W,C} (p - t)^2 + eps), i.e. -PSNR for data range 1. Lower is better;
    its gradient weighs each image by 1 / its MSE, so easy images are not neglected."""
    d = _f32(pred) - _f32(target)
    mse = jnp.mean(d * d, axis=tuple(range(1, d.ndim)))
    return jnp.mean(10.0 * jnp.log10(mse + eps))


def ssim_loss(pred, target):
    """1 - mean SSIM, with `metrics.ssim` (Gaussian window 11 taps, sigma 1.5, data range 1).

    SSIM is averaged over the valid 11×11 window positions, so H and W must be >= 11 (crops of
    at least 11 px; 32+ gives a meaningful average). Differentiable, with finite gradients on
    flat images too.
    """
    return 1.0 - jnp.mean(ssim(_f32(pred), _f32(target)))


def lab_l1(pred, target, white="D65"):
    """mean |Lab(p) - Lab(t)| / 100 over N, H, W and the 3 Lab channels (`color.rgb_to_lab`).

    The channel *mean*, so this is the field's LAB error ("all" region, which sums |dL| + |da|
    + |db|) divided by 300. Gradients are finite on the whole of [0, 1], including 0 and 1
    (both piecewise branches of the sRGB and Lab curves are guarded).
    """
    diff = rgb_to_lab(_f32(pred), white) - rgb_to_lab(_f32(target), white)
    return jnp.mean(jnp.abs(diff)) / 100.0


def mask_bce(logits, mask):
    """Mean binary cross-entropy of mask logits (N, H, W, 1) against a mask in [0, 1].

    bce = max(z, 0) - z m + log(1 + exp(-|z|)) (`optax.sigmoid_binary_cross_entropy`), averaged
    over all pixels; mask may be (N, H, W) or (N, H, W, 1) and soft.
    """
    logits = _f32(logits)
    mask = _f32(mask).reshape(logits.shape)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, mask))


def mask_bce_balanced(logits, mask):
    """Class-balanced binary cross-entropy of mask logits z against a mask m in [0, 1] (HED's
    weighting, Xie & Tu 2015): shadow pixels count with the batch's lit fraction β = 1 - mean(m),
    lit pixels with 1 - β, so missing a shadow that covers a small part of the view costs as much
    as marking the rest:

        2 · mean(β · m · softplus(-z) + (1 - β) · (1 - m) · softplus(z))

    β is held constant (no gradient through it); with half the pixels shadow it is `mask_bce`.
    Shapes as for `mask_bce`.
    """
    logits = _f32(logits)
    mask = _f32(mask).reshape(logits.shape)
    beta = jax.lax.stop_gradient(1.0 - jnp.mean(mask))
    return 2.0 * jnp.mean(beta * mask * jax.nn.softplus(-logits)
                          + (1.0 - beta) * (1.0 - mask) * jax.nn.softplus(logits))


_MASK_TERMS = {"mask_bce": mask_bce, "mask_bce_balanced": mask_bce_balanced}
_IMAGE_TERMS = {"l1": l1, "charbonnier": charbonnier, "psnr": psnr_loss, "ssim": ssim_loss,
                "lab_l1": lab_l1}


def removal_loss(outputs, batch, weights):
    """Weighted sum of the named terms: returns (total, {name: value for each nonzero weight}).

    outputs: a removal model's dict: "shadow_free" (N, H, W, 3) and/or "mask_logits"
      (N, H, W, 1) (`models.JointRemover` gives both, `unet` the first).
    batch: dict with "shadow_free" (N, H, W, 3) in [0, 1], and "mask" for the mask terms.
    weights: {name: float} with names from `TERMS`, e.g. {"l1": 1.0, "ssim": 0.1}. Weights must
      be Python numbers: terms whose weight is 0 are not computed (nor reported).
    total = sum_k w_k * term_k (a float32 scalar; 0 when every weight is 0).
    """
    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise ValueError(f"unknown loss terms {unknown}; known: {', '.join(TERMS)}")
    values = {}
    for name in TERMS:
        weight = weights.get(name, 0.0)
        if weight == 0:
            continue
        if name in _MASK_TERMS:
            if "mask_logits" not in outputs or "mask" not in batch:
                raise ValueError(
                    f"loss term '{name}' needs outputs['mask_logits'] and batch['mask']")
            values[name] = _MASK_TERMS[name](outputs["mask_logits"], batch["mask"])
        else:
            if "shadow_free" not in outputs:
                raise ValueError(f"loss term '{name}' needs outputs['shadow_free']")
            values[name] = _IMAGE_TERMS[name](outputs["shadow_free"], batch["shadow_free"])
    total = jnp.zeros((), jnp.float32)
    for name, value in values.items():
        total = total + weights[name] * value
    return total, values
