"""ISTD+ ("adjusted ISTD"): the colour correction of ISTD's shadow-free images.

ISTD's shadow-free photos were taken at a slightly different exposure and white balance than
the shadow photos, so even outside the shadow the pair differs. ISTD+ fixes the ground truth:
per image and per channel, fit `shadow ≈ a + b·free` by least squares on the non-shadow pixels,
then replace `free` by `b·free + a` (Le & Samaras, ICCV 2019; their `color_adjustment.m`).

One difference from that script: it takes non-shadow as `mask == 0`; here it is `mask < 128`
for uint8 masks (`<= 0.5` for float or bool), which is the same on ISTD's 0/255 masks and
robust to masks that are not strictly binary.
"""

from __future__ import annotations

import numpy as np


def istd_plus_correct(shadow, free, mask) -> np.ndarray:
    """The ISTD+ corrected shadow-free image.

    Args:
      shadow, free: `(..., H, W, C)` images, uint8 (0..255) or float (any scale, e.g. [0, 1]).
      mask: `(..., H, W)` or `(..., H, W, 1)`, shadow where `>= 128` (uint8) or `> 0.5` (float,
        bool); leading dimensions are images, corrected each on its own.

    Returns:
      `b·free + a`, fitted per image and channel on non-shadow pixels, in `free`'s dtype: uint8
      rounded and clipped to 0..255, floats unclipped. An image with fewer than two non-shadow
      pixels is returned unchanged; a channel that is constant there gets only the offset
      (`b = 1`, `a = mean(shadow - free)`).
    """
    shadow = np.asarray(shadow)
    free = np.asarray(free)
    mask = np.asarray(mask)
    if shadow.shape != free.shape or free.ndim < 3:
        raise ValueError(f"shadow {shadow.shape} and free {free.shape} must both be (..., H, W, C)")
    if mask.ndim == free.ndim and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != free.shape[:-1]:
        raise ValueError(f"mask {mask.shape} must be {free.shape[:-1]} (or with a trailing 1)")

    if mask.dtype == np.uint8:
        lit = mask < 128
    else:
        lit = mask.astype(np.float64) <= 0.5
    w = lit[..., None].astype(np.float64)  # (..., H, W, 1) weights of the pixels used
    x = free.astype(np.float64)
    y = shadow.astype(np.float64)

    axes = (-3, -2)
    n = w.sum(axis=axes, keepdims=True)  # (..., 1, 1, 1)
    safe_n = np.maximum(n, 1.0)
    mean_x = (w * x).sum(axis=axes, keepdims=True) / safe_n
    mean_y = (w * y).sum(axis=axes, keepdims=True) / safe_n
    dx = x - mean_x
    var_x = (w * dx * dx).sum(axis=axes, keepdims=True)
    cov_xy = (w * dx * (y - mean_y)).sum(axis=axes, keepdims=True)

    scale = float(np.abs(x).max()) if x.size else 1.0
    degenerate = var_x <= 1e-12 * max(scale, 1e-12) ** 2 * safe_n
    b = np.where(degenerate, 1.0, cov_xy / np.where(degenerate, 1.0, var_x))
    a = mean_y - b * mean_x
    unchanged = n < 2
    b = np.where(unchanged, 1.0, b)
    a = np.where(unchanged, 0.0, a)

    corrected = b * x + a
    if free.dtype == np.uint8:
        return np.clip(np.rint(corrected), 0, 255).astype(np.uint8)
    if np.issubdtype(free.dtype, np.floating):
        return corrected.astype(free.dtype)
    info = np.iinfo(free.dtype)
    return np.clip(np.rint(corrected), info.min, info.max).astype(free.dtype)
