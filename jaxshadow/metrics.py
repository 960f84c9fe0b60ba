"""The shadow-removal and shadow-detection metrics of the field, in pure JAX (jit-able).

Images are float NHWC in [0, 1] (RGB for the Lab metrics); masks are NHW or NHW1, shadow where
the value is > 0.5. Every function returns per-image quantities of shape (N,) or batch-pooled
scalars, and the ``*_sums`` / ``*_counts`` helpers return the raw per-image sums and pixel counts,
so an evaluator can pool exactly across batches (over a whole test set) or average per image.

- LAB error (papers call it "RMSE"): mean over a region's pixels of |dL| + |da| + |db|.
- PSNR and SSIM: as ``skimage.metrics`` (SSIM with the Gaussian window of Wang et al.).
- BER (detection): 100 * (1 - (TP/Np + TN/Nn) / 2).
"""

import functools

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow.color import rgb_to_lab

__all__ = ["ber", "ber_counts", "ber_from_counts", "lab_error", "lab_error_sums", "psnr", "ssim"]


def _mask(mask):
    """NHW or NHW1 -> bool NHW (value > 0.5)."""
    mask = jnp.asarray(mask)
    if mask.ndim == 4:
        mask = mask[..., 0]
    return mask > 0.5


@functools.partial(jax.jit, static_argnames="white")
def lab_error_sums(pred, target, mask, *, white="D65"):
    """Per-image sums of the Lab absolute error and pixel counts, each of shape (N,).

    e[n, h, w] = |L_p - L_t| + |a_p - a_t| + |b_p - b_t|, with Lab from ``rgb_to_lab(., white)``.
    Returns {"shadow_sum", "shadow_count", "non_shadow_sum", "non_shadow_count", "all_sum",
    "all_count"}: sums of e (float) and numbers of pixels (int32) over the shadow pixels
    (mask > 0.5), the other pixels, and all pixels of each image.
    """
    err = jnp.sum(jnp.abs(rgb_to_lab(pred, white) - rgb_to_lab(target, white)), axis=-1)
    shadow = _mask(mask)
    axes = (1, 2)
    shadow_sum = jnp.sum(jnp.where(shadow, err, 0.0), axis=axes)
    all_sum = jnp.sum(err, axis=axes)
    shadow_count = jnp.sum(shadow, axis=axes, dtype=jnp.int32)
    all_count = jnp.full(shadow_count.shape, err.shape[1] * err.shape[2], jnp.int32)
    return {
        "shadow_sum": shadow_sum,
        "shadow_count": shadow_count,
        "non_shadow_sum": all_sum - shadow_sum,
        "non_shadow_count": all_count - shadow_count,
        "all_sum": all_sum,
        "all_count": all_count,
    }


@functools.partial(jax.jit, static_argnames=("white", "per_image"))
def lab_error(pred, target, mask, *, white="D65", per_image=False):
    """The field's "RMSE": mean over a region's pixels of |dL| + |da| + |db| in CIE Lab.

    pred, target: (N, H, W, 3) sRGB in [0, 1]; mask: (N, H, W) or (N, H, W, 1), > 0.5 = shadow.
    Returns {"shadow", "non_shadow", "all"}:
      per_image=False (default): pixel-pooled over the batch, sum_n S_n / sum_n C_n (scalars);
      per_image=True: S_n / C_n for each image, shape (N,).
    A region with no pixels gives NaN (0 / 0) for that image (or for the batch when pooled).
    white: "D65" (skimage / MATLAB rgb2lab) or "D50" (MATLAB makecform('srgb2lab'), which the
    reference ISTD / SRD scripts use). For pooling across batches use ``lab_error_sums``.
    """
    sums = lab_error_sums(pred, target, mask, white=white)
    out = {}
    for region in ("shadow", "non_shadow", "all"):
        total, count = sums[f"{region}_sum"], sums[f"{region}_count"]
        if not per_image:
            total, count = jnp.sum(total), jnp.sum(count)
        out[region] = total / count.astype(total.dtype)
    return out


@jax.jit
def psnr(pred, target, data_range=1.0):
    """Peak signal-to-noise ratio per image, shape (N,): 10 log10(data_range^2 / MSE).

    MSE is the mean over H, W and C of (pred - target)^2; as skimage's peak_signal_noise_ratio.
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    mse = jnp.mean((pred - target) ** 2, axis=tuple(range(1, pred.ndim)))
    return 10.0 * jnp.log10(data_range**2 / mse)


def _gaussian_taps(size=11, sigma=1.5):
    """The normalised 1-D Gaussian window of SSIM (Wang et al.), as Python floats."""
    x = np.arange(size) - (size - 1) / 2
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return tuple(float(t) for t in (taps / taps.sum()).astype(np.float32))


def _gaussian_valid(z, taps=_gaussian_taps()):
    """The separable Gaussian filter over H and W of (N, H, W, C) at the "valid" positions,
    -> (N, H - k + 1, W - k + 1, C) for k taps: sums of k shifted slices per axis.

    The same filter as dm_pix's default (a vmapped 1-D `jnp.convolve`), which XLA lowers to
    one small convolution per row: 10-20x slower on the CPU than these fused slices.
    """
    k = len(taps)
    h, w = z.shape[1] - k + 1, z.shape[2] - k + 1
    z = sum(t * z[:, i:i + h] for i, t in enumerate(taps))
    return sum(t * z[:, :, i:i + w] for i, t in enumerate(taps))


@jax.jit
def ssim(pred, target, data_range=1.0):
    """Mean SSIM per image, shape (N,), for (N, H, W, C) images (H, W >= 11).

    Gaussian window sigma = 1.5, 11 taps; K1 = 0.01, K2 = 0.03; population (co)variances;
    SSIM map averaged over the valid window positions and over channels. Equals
    ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)``: skimage filters with
    reflect padding and then crops (11 - 1) // 2 = 5 pixels per border before averaging, which
    leaves exactly the "valid" positions that ``dm_pix.ssim`` computes (same normalised
    Gaussian taps, truncate 3.5 -> radius 5). dm_pix only adds clipping of the variances at
    eps^2 and of |cov| at sqrt(var_a var_b), below float32 resolution; measured to agree with
    skimage to ~1e-6, so its formula is used here, with the filter as fused shifted slices.
    """
    return dm_pix.ssim(
        jnp.asarray(pred), jnp.asarray(target), max_val=data_range,
        k1=0.01, k2=0.03, filter_fn=_gaussian_valid,
    )


@jax.jit
def ber_counts(pred_mask, gt_mask):
    """Per-image detection counts, each (N,) int32: {"tp", "tn", "n_pos", "n_neg"}.

    Both masks NHW or NHW1, thresholded at > 0.5. tp = #(pred & gt), tn = #(~pred & ~gt),
    n_pos = #gt, n_neg = #~gt.
    """
    pred, gt = _mask(pred_mask), _mask(gt_mask)
    axes = (1, 2)
    count = lambda x: jnp.sum(x, axis=axes, dtype=jnp.int32)
    return {
        "tp": count(pred & gt),
        "tn": count(~pred & ~gt),
        "n_pos": count(gt),
        "n_neg": count(~gt),
    }


@functools.partial(jax.jit, static_argnames="per_image")
def ber(pred_mask, gt_mask, *, per_image=False):
    """Balanced error rate in percent: 100 * (1 - (TP/Np + TN/Nn) / 2).

    Counts from ``ber_counts``; per_image=False pools TP, TN, Np, Nn over the batch (scalar),
    per_image=True gives one BER per image, shape (N,) (NaN where an image has no positive or
    no negative pixel). For a whole test set, sum ``ber_counts`` over batches, then ``ber_from_counts``.
    """
    c = ber_counts(pred_mask, gt_mask)
    if not per_image:
        c = {k: jnp.sum(v) for k, v in c.items()}
    f = lambda k: c[k].astype(jnp.float32)
    return ber_from_counts(f("tp"), f("tn"), f("n_pos"), f("n_neg"))


def ber_from_counts(tp, tn, n_pos, n_neg):
    """BER in percent from counts pooled as the caller chose (arrays or Python floats):
    100 * (1 - (tp / n_pos + tn / n_neg) / 2)."""
    return 100.0 * (1.0 - 0.5 * (tp / n_pos + tn / n_neg))
