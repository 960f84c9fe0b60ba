"""Synthetic cast shadows, rendered on the device in pure JAX (after SynShadow, Inoue+ 2021).

``render(key, images)`` takes a batch of shadow-free images and returns ``(shadowed, mask)``:

1. **Occluder matte** (per image, hard, binary). One primary kind is drawn per image and each
   other kind is added (union) with a small probability:

   - *convex polygon*: 3-8 random half-planes around a centre (rasterised by the half-plane test);
   - *star polygon*: 10 vertices at jittered angles and random radii (sector/winding test);
   - *blob*: a level set of a sum of six anisotropic Gaussians (soft-min of distances);
   - *thin structures*: 1-4 thick line segments, some branching off the previous one (poles,
     branches, cables).

   Every shape lives in resolution-independent units (the longer image side is 1), is sheared by
   a random anisotropic stretch and may sit partly off the image (an edge of a large polygon is
   the straight shadow edge of a wall). Each kind gives a *gauge field* ``h >= 0`` that is 0 at
   the shape's centre and grows linearly outwards (``h <= t`` is the shape scaled by ``t``), so
   the **coverage is exact by construction**: a target fraction ``c`` is drawn per image, and
   the threshold ``t`` is the ``c``-quantile of ``h`` over the pixel grid (an exact k-th
   smallest value by a fixed 31-step bisection on the float bits: no sort, no data-dependent
   loop).
   Thin structures keep their own width and the other shapes are scaled to fill the rest of
   the target; when thin structures are the only kind, their width is what gets scaled, and
   their target comes from the smaller ``thin_only_coverage`` range.

2. **Penumbra**: the hard matte is blurred by a Gaussian with a per-image width ``sigma`` (a
   fraction of the longer side, drawn uniformly or, with ``penumbra_log``, log-uniformly; for
   thin structures alone, at most their half-width, so that the mask keeps a core above 0.5),
   separably, as two dense matrix products whose rows are the pixel-integrated Gaussian
   (exact edge-replicate borders, no ``sigma``-dependent shapes), truncated at ``3 sigma`` so the mask is exactly 0 away from the shadow.

3. **Darkening** (SynShadow's affine model): ``I_s = m * darken(I_f) + (1 - m) * I_f`` with
   ``darken_c(x) = min(clip(a * (x - x1_c), 0, 1), x)``, ``x1 ~ U(0, 0.25)``,
   ``y2 ~ U(0.1, min(0.9, 1 - x1))``, ``a = y2 / (1 - x1)`` (so the slope is at most 1, as in
   SynShadow's rejection sampling, without the loop), ``x1_R = x1 + N(0.05, 0.025)``,
   ``x1_G = x1``, ``x1_B = x1 - N(0.05, 0.025)`` (shadows lit by the sky are bluish).
   ``x1_B`` can be negative, which would *brighten* near-black blue values; the ``min(., x)``
   removes that, so a shadowed pixel is never brighter than the lit one, channel by channel.

   The blend with the mask is done in **linear RGB** (light adds linearly, so the penumbra is a
   physical mix of lit and shadowed light). ``darken`` itself is evaluated, by default, on the
   **sRGB values**, where SynShadow fitted it (``ShadowConfig.darken_space="srgb"``):
   evaluated on linear values, the same intercepts (up to 0.25 linear, i.e. sRGB 0.54) crush
   every darker channel to black and over-saturate the shadow, which looks wrong;
   ``darken_space="linear"`` is still available. Umbra pixels (``m == 1``) are identical in
   both blend spaces.

4. **Shadow-free images** (``ShadowConfig.shadow_free``, 0 by default): that fraction of the
   images keeps no shadow (mask 0). Crops of real photographs often contain no shadow at all,
   while every rendered one has 5-70 %; a detector that never sees a view without a shadow
   learns that there always is one and marks the darkest material (asphalt, a dark wall) when
   there is not.

5. **Shadows on the brightest surfaces, mild shadows** (``ShadowConfig.bright_anchor``,
   ``ShadowConfig.mild``; 0 by default). With uniform placement a rendered shadow usually falls
   on surfaces of middling brightness and leaves the brightest ones lit, so "darker than the
   brightest surfaces in view" separates shadow from light on the training views almost as well
   as "a darkening that continues a surface across an edge". On photographs it does not: a
   shadow across a white sign stays among the brightest surfaces of the view and is missed,
   while lit asphalt, shaded walls and dark foliage are darker than the sign and are marked.
   For a ``bright_anchor`` fraction of the images the centre of the occluders (every kind but
   thin structures) is a pixel drawn uniformly among the brightest ``1 - bright_quantile`` of
   the image's luminance, so the shadow covers part of its brightest surface and the rest of
   the view is lit. For a ``mild`` fraction, the darkening is drawn from ``mild_x1`` and
   ``mild_y2`` (by default a white surface keeps sRGB 0.6-0.9 in the shadow): shadows lit
   by a bright sky or by light reflected from nearby walls, as large shadows in open scenes
   often are (SRD, ISTD scenes around buildings), so that faint shadows are not always "lit".
   Both draw from a second PRNG stream (``fold_in(key, 1)``): with both at 0 every other draw,
   and so every image, is what it was without them.

Guarantees, per pixel and channel: where ``mask == 0`` the output is the input bit for bit
(the sRGB round trip is not applied there), and everywhere ``shadowed <= images``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from jaxshadow.color import linear_to_srgb, srgb_to_linear

__all__ = ["PRESETS", "ShadowConfig", "render"]

# Full float32 products: the rendered evaluation shadows must not depend on the backend
# (default precision is TF32 on GPUs and bfloat16 passes on TPUs).
_EXACT = jax.lax.Precision.HIGHEST

# Kinds of occluder, in the order of ShadowConfig.kind_weights / extra_kind_prob.
KINDS = ("convex", "star", "blob", "thin")

_MAX_HALFPLANES = 8  # convex polygons have 3.._MAX_HALFPLANES sides
_STAR_VERTICES = 10
_BLOB_GAUSSIANS = 6
_MAX_SEGMENTS = 4


@dataclasses.dataclass(frozen=True)
class ShadowConfig:
    """Ranges the renderer draws from. Hashable, so it can be a static argument of ``jax.jit``.

    All ``(lo, hi)`` pairs are uniform ranges. Sizes are fractions of the longer image side.
    """

    coverage: tuple[float, float] = (0.05, 0.70)  # fraction of pixels in the hard matte
    thin_only_coverage: tuple[float, float] = (0.05, 0.30)  # target when only thin structures
    penumbra: tuple[float, float] = (0.005, 0.03)  # Gaussian sigma of the soft edge
    penumbra_log: bool = False  # draw sigma log-uniformly in `penumbra` (else uniformly)
    x1: tuple[float, float] = (0.0, 0.25)  # darkening: x-intercept (input that maps to black)
    y2: tuple[float, float] = (0.1, 0.9)  # darkening: output for a white input
    color_shift: tuple[float, float] = (0.05, 0.025)  # mean, std of the R / B intercept shifts
    kind_weights: tuple[float, float, float, float] = (0.3, 0.2, 0.3, 0.2)  # primary kind
    extra_kind_prob: tuple[float, float, float, float] = (0.1, 0.1, 0.1, 0.3)  # added kinds
    darken_space: str = "srgb"  # where darken() is evaluated: "srgb" values or "linear" RGB
    shadow_free: float = 0.0  # fraction of images left as they are (mask 0, no shadow)
    bright_anchor: float = 0.0  # fraction of images whose occluders sit on the brightest pixels
    bright_quantile: float = 0.8  # ... those with a luminance above this quantile of the image
    mild: float = 0.0  # fraction of images whose darkening is drawn from mild_x1 and mild_y2
    mild_x1: tuple[float, float] = (0.0, 0.1)  # darkening of mild shadows: x-intercept
    mild_y2: tuple[float, float] = (0.6, 0.9)  # ... and output for a white input

    def __post_init__(self):
        for field in dataclasses.fields(self):  # lists -> tuples: the config must hash
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
        pairs = {
            "coverage": self.coverage,
            "thin_only_coverage": self.thin_only_coverage,
            "penumbra": self.penumbra,
            "x1": self.x1,
            "y2": self.y2,
            "mild_x1": self.mild_x1,
            "mild_y2": self.mild_y2,
        }
        for name, (lo, hi) in pairs.items():
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"ShadowConfig.{name} needs 0 <= lo <= hi <= 1, got {(lo, hi)}")
        if self.penumbra_log and self.penumbra[0] <= 0.0:
            raise ValueError(f"ShadowConfig.penumbra_log needs penumbra lo > 0, "
                             f"got {self.penumbra}")
        if not 0.0 <= self.shadow_free < 1.0:
            raise ValueError(f"ShadowConfig.shadow_free is a fraction in [0, 1), "
                             f"got {self.shadow_free}")
        for name in ("bright_anchor", "bright_quantile", "mild"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ShadowConfig.{name} is a fraction in [0, 1], "
                                 f"got {getattr(self, name)}")
        if self.x1[1] >= 1.0 or self.mild_x1[1] >= 1.0:
            raise ValueError(f"ShadowConfig.x1 and mild_x1 must stay below 1, "
                             f"got {self.x1}, {self.mild_x1}")
        if self.darken_space not in ("srgb", "linear"):
            raise ValueError(f"ShadowConfig.darken_space: 'srgb' or 'linear', not {self.darken_space!r}")
        if self.color_shift[1] < 0:
            raise ValueError(f"ShadowConfig.color_shift std must be >= 0, got {self.color_shift}")
        if len(self.kind_weights) != 4 or min(self.kind_weights) < 0 or sum(self.kind_weights) <= 0:
            raise ValueError(f"ShadowConfig.kind_weights: 4 weights >= 0, not {self.kind_weights}")
        if len(self.extra_kind_prob) != 4 or not all(0 <= p <= 1 for p in self.extra_kind_prob):
            raise ValueError(f"ShadowConfig.extra_kind_prob: 4 probabilities, not {self.extra_kind_prob}")


# Shadows as they look in photographs at a working resolution of 192-384 pixels (long side):
#
# - coverage 5-60 %: the share of the frame in shadow in the field's paired sets (ISTD and SRD
#   scenes are framed around one cast shadow; SBU's masks cover a few % to over half);
# - penumbra: a sun of angular diameter 0.53 degrees (9.3 mrad) gives a soft edge about
#   d * 9.3 mrad wide for an occluder d metres from the surface, i.e. 5-30 mm for d = 0.5-3 m;
#   over a 1-5 m wide frame that is 0.1-3 % of its side; focus blur and resampling widen it
#   further, so sigma is drawn from 0.3-2.5 % of the longer side;
# - occluders: most real shadows are cast by objects out of the frame (buildings, walls, cars:
#   large polygons whose straight edge cuts across the image) or by irregular bodies (trees,
#   people: blobs), the rest by thin structures (poles, branches), alone or beside a large one;
# - darkness and colour: SynShadow's affine model and ranges (fitted by Inoue & Yamasaki to
#   the paired shadow / shadow-free images of ISTD and SRD), unchanged.
#
# "photo_crop" is the same for training crops cut from a view at the working resolution: the
# renderer measures sizes in units of the image it is given, so on a 128-pixel crop of a
# 256-pixel view "photo"'s widest penumbra is 1.25 % of the view (3 px), while occluders far
# from the surface (trees, buildings, 5-20 m away) cast edges 45-190 mm wide, 2-10 % of a
# 2 m frame (sigma 1-4 %). Its sigma runs from 0.5 % to 12 % of the crop (0.25-6 % of a view
# twice its size), drawn log-uniformly so that sharp edges (median 2.4 %) stay common.
_PHOTO = ShadowConfig(coverage=(0.05, 0.60), thin_only_coverage=(0.03, 0.20),
                      penumbra=(0.003, 0.025), kind_weights=(0.35, 0.15, 0.35, 0.15),
                      extra_kind_prob=(0.15, 0.1, 0.15, 0.3))
PRESETS = {
    "synshadow": ShadowConfig(),
    "photo": _PHOTO,
    "photo_crop": dataclasses.replace(_PHOTO, penumbra=(0.005, 0.12), penumbra_log=True),
}


@functools.partial(jax.jit, static_argnames="config")
def render(key, images, *, config: ShadowConfig | None = None):
    """Casts random synthetic shadows on shadow-free images.

    Args:
      key: a JAX PRNG key; example ``i`` uses ``jax.random.split(key, N)[i]``.
      images: float array ``(N, H, W, C)``, ``C`` in {1, 3}, sRGB values in [0, 1], computed
        in float32 (``C == 1``: grey, no colour shift; values outside [0, 1] are clipped for the
        shadow computation only, lit pixels pass through as they are).
      config: the ranges to draw from; ``None`` means ``ShadowConfig()``. A static argument:
        ``render`` is jitted (one compile per shape and config) and composes with an outer
        ``jax.jit`` (``static_argnames="config"``) or ``jax.vmap`` (over key and images).

    Returns:
      ``(shadowed, mask)``: ``shadowed`` float32 ``(N, H, W, C)`` in [0, 1], ``<= images``
      everywhere and bit-identical to ``images`` where ``mask == 0``; ``mask`` float32
      ``(N, H, W, 1)`` in [0, 1], 1 in the umbra, soft in the penumbra.
    """
    config = ShadowConfig() if config is None else config
    images = jnp.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"render expects images (N, H, W, 1 or 3), got shape {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise TypeError(f"render expects float images in [0, 1], got {images.dtype}")
    images = images.astype(jnp.float32)
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(lambda k, im: _render_one(k, im, config))(keys, images)


# ----------------------------------------------------------------------------- one image

_DRAWS = 256  # uniform numbers drawn per image (one PRNG call: each call costs compile time)


class _Draws:
    """Hands out slices of one vector of uniforms, in a fixed (trace-time) order."""

    def __init__(self, key):
        self._u = jax.random.uniform(key, (_DRAWS,), jnp.float32)
        self._next = 0

    def uniform(self, lo=0.0, hi=1.0, shape=()):
        size = math.prod(shape)
        if self._next + size > _DRAWS:
            raise AssertionError("synthetic: _DRAWS too small")
        u = self._u[self._next : self._next + size].reshape(shape)
        self._next += size
        return lo + (hi - lo) * u

    def normal(self, mean=0.0, std=1.0, shape=()):
        """Box-Muller (cheaper to compile than the inverse CDF)."""
        u1 = self.uniform(shape=shape)
        u2 = self.uniform(shape=shape)
        radius = jnp.sqrt(-2.0 * jnp.log1p(-u1))  # 1 - u1 is in (0, 1]
        return mean + std * radius * jnp.cos(2 * math.pi * u2)

    def bernoulli(self, p, shape=()):
        return self.uniform(shape=shape) < p

    def randint(self, lo, hi):
        """An integer uniform in [lo, hi)."""
        return jnp.minimum(lo + jnp.floor(self.uniform() * (hi - lo)).astype(jnp.int32), hi - 1)

    def categorical(self, weights):
        cdf = jnp.cumsum(jnp.asarray(weights, jnp.float32))
        return jnp.sum(self.uniform() * cdf[-1] >= cdf[:-1])


def _render_one(key, image, cfg):
    h, w, c = image.shape
    draws = _Draws(key)
    # the second stream exists only for configs that use it (each PRNG call costs compile time)
    extra = _Draws(jax.random.fold_in(key, 1)) if cfg.bright_anchor or cfg.mild else None
    anchor = _bright_anchor(extra, image, cfg) if cfg.bright_anchor else None
    hard, thinnest = _matte(draws, h, w, cfg, anchor)

    # penumbra width in pixels; no wider than the thinnest structure's half-width when thin
    # structures are alone, so that a pole's shadow keeps a core (mask > 0.5) of its own
    lo, hi = cfg.penumbra
    if cfg.penumbra_log:  # sigma = lo * (hi / lo) ** u
        sigma = lo * jnp.exp(draws.uniform() * math.log(hi / lo))
    else:
        sigma = draws.uniform(lo, hi)
    sigma = jnp.minimum(sigma, thinnest) * max(h, w)
    mask = _blur(hard.astype(jnp.float32), sigma)
    mask = jnp.clip(mask, 0.0, 1.0)[..., None]

    x = jnp.clip(image, 0.0, 1.0)
    x_lin = srgb_to_linear(x)
    mild = extra.bernoulli(cfg.mild) if cfg.mild else False
    if cfg.darken_space == "srgb":
        dark_lin = srgb_to_linear(_darken(draws, x, cfg, mild))
    else:
        dark_lin = _darken(draws, x_lin, cfg, mild)
    # drawn last, so that the other draws (and every image of a shadow_free=0 config) stay as
    # they were
    mask = jnp.where(draws.uniform() < cfg.shadow_free, 0.0, mask)
    out = linear_to_srgb(mask * dark_lin + (1.0 - mask) * x_lin)  # light adds linearly
    # lit pixels: the input itself, no round trip; shadowed: round-off may never brighten
    out = jnp.where(mask > 0, jnp.minimum(out, image), image)
    return out, mask


def _darken(draws, x, cfg, mild=False):
    """SynShadow's affine darkening, ``min(clip(a (x - x1_c), 0, 1), x)`` per channel; ``x1``
    and ``y2`` from ``cfg.mild_x1`` / ``cfg.mild_y2`` where ``mild`` (a traced bool)."""
    (x1_lo, x1_hi), (y2_lo, y2_top) = cfg.x1, cfg.y2
    if cfg.mild:  # else the plain Python ranges: the same float32 values as without `mild`
        x1_lo, x1_hi = (jnp.where(mild, m, r) for m, r in zip(cfg.mild_x1, cfg.x1))
        y2_lo, y2_top = (jnp.where(mild, m, r) for m, r in zip(cfg.mild_y2, cfg.y2))
    x1 = draws.uniform(x1_lo, x1_hi)
    y2_hi = jnp.maximum(y2_lo, jnp.minimum(y2_top, 1.0 - x1))  # slope a <= 1
    y2 = draws.uniform(y2_lo, y2_hi)
    a = y2 / (1.0 - x1)
    shift_r, shift_b = draws.normal(*cfg.color_shift, shape=(2,))
    if x.shape[-1] == 3:
        x1_c = x1 + jnp.stack([shift_r, 0.0, -shift_b])
    else:
        x1_c = jnp.reshape(x1, (1,))
    return jnp.minimum(jnp.clip(a * (x - x1_c), 0.0, 1.0), x)


# ----------------------------------------------------------------------------- the matte


def _bright_anchor(draws, image, cfg):
    """``(point, use)``: a pixel centre (x, y) in units of max(H, W), uniform among the pixels
    whose luminance (Rec. 709 weights on the sRGB values) is at least its ``cfg.bright_quantile``
    quantile over the image, and whether this image uses it (probability ``cfg.bright_anchor``)."""
    h, w, c = image.shape
    x = jnp.clip(image, 0.0, 1.0)
    luma = x[..., 0] if c == 1 else 0.2126 * x[..., 0] + 0.7152 * x[..., 1] + 0.0722 * x[..., 2]
    luma = luma.reshape(-1)
    n = h * w
    k = min(n, max(1, int(math.ceil(cfg.bright_quantile * n))))
    bright = luma >= _kth_smallest(luma, k)  # at least n - k + 1 pixels
    cdf = jnp.cumsum(bright.astype(jnp.int32))
    target = jnp.floor(draws.uniform() * cdf[-1]).astype(jnp.int32)  # in [0, count)
    index = jnp.minimum(jnp.sum(cdf <= target), n - 1)  # the (target + 1)-th bright pixel
    size = max(h, w)
    point = jnp.stack([(index % w).astype(jnp.float32) + 0.5,
                       (index // w).astype(jnp.float32) + 0.5]) / size
    return point, draws.bernoulli(cfg.bright_anchor)


def _matte(draws, h, w, cfg, anchor=None):
    """Boolean (H, W) occluder matte with an exactly drawn coverage, and the half-width of its
    thinnest part when it is made of thin structures only (else +inf), in units of max(H, W).
    ``anchor``: ``(point, use)`` of `_bright_anchor`, the centre of every shape but thin
    structures where ``use``."""
    size = max(h, w)
    ys = (jnp.arange(h, dtype=jnp.float32) + 0.5) / size
    xs = (jnp.arange(w, dtype=jnp.float32) + 0.5) / size
    p = jnp.stack(jnp.meshgrid(xs, ys, indexing="xy"), axis=-1)  # (H, W, 2) as (x, y)
    extent = jnp.array([w / size, h / size], jnp.float32)

    primary = draws.categorical(cfg.kind_weights)
    extra = draws.bernoulli(jnp.asarray(cfg.extra_kind_prob, jnp.float32), shape=(4,))
    present = (jnp.arange(4) == primary) | extra  # (4,) bool, at least one

    fields = [f(draws, p, extent, anchor) for f in (_convex_field, _star_field, _blob_field)]
    thin, thin_width = _thin_field(draws, p, extent)

    main = jnp.min(jnp.stack([jnp.where(on, f, jnp.inf) for on, f in zip(present, fields)]), axis=0)
    has_main = jnp.any(present[:3])
    # Thin structures next to a main shape keep their width (h <= 1) and the main shape fills
    # up the rest of the target; on their own, their width is what gets scaled.
    fixed = present[3] & has_main & (thin <= 1.0)
    field = jnp.where(has_main, main, thin)
    field = jnp.where(fixed, 0.0, jnp.maximum(field, 1e-30))  # fixed pixels come first

    u = draws.uniform()
    lo = jnp.where(has_main, cfg.coverage[0], cfg.thin_only_coverage[0])
    hi = jnp.where(has_main, cfg.coverage[1], cfg.thin_only_coverage[1])
    n = h * w
    count = jnp.clip(jnp.round((lo + (hi - lo) * u) * n).astype(jnp.int32), 1, n)
    threshold = _kth_smallest(field, count)
    thinnest = jnp.where(has_main, jnp.inf, threshold * thin_width)
    return field <= threshold, thinnest


def _kth_smallest(x, k):
    """The k-th smallest (1-based) of the non-negative float32 array ``x`` (+inf allowed).

    Bisection on the IEEE bit patterns, which are ordered like the values for x >= 0:
    31 counting passes instead of a sort (XLA's sort is slow on CPU), exact result.
    """
    bits = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.int32).reshape(-1)

    def step(_, bounds):
        lo, hi = bounds  # invariant: count(bits <= hi) >= k, count(bits <= lo - 1) < k
        mid = lo + (hi - lo) // 2
        enough = jnp.sum(bits <= mid) >= k
        return jnp.where(enough, lo, mid + 1), jnp.where(enough, mid, hi)

    start = (jnp.int32(0), jnp.int32(0x7F800000))  # [0, +inf]
    _, hi = jax.lax.fori_loop(0, 31, step, start)
    return jax.lax.bitcast_convert_type(hi, jnp.float32)


def _centre(draws, extent, margin, anchor=None):
    """A point uniform in the image rectangle grown by ``margin`` on each side, or the anchor's
    point where it is used (the uniform is drawn either way: the later draws stay in place)."""
    point = -margin + draws.uniform(shape=(2,)) * (extent + 2 * margin)
    if anchor is None:
        return point
    return jnp.where(anchor[1], anchor[0], point)


def _stretch(draws, q, shape=()):
    """Rotates ``q`` (*shape, ..., 2) by random angles and stretches it anisotropically,
    keeping the area; one transform per leading index in ``shape``."""
    theta = draws.uniform(0.0, 2 * math.pi, shape)
    log_aspect = draws.uniform(-0.8, 0.8, shape)
    expand = (...,) + (None,) * (q.ndim - 1 - len(shape))
    c, s, e = jnp.cos(theta)[expand], jnp.sin(theta)[expand], jnp.exp(log_aspect)[expand]
    u = c * q[..., 0] + s * q[..., 1]
    v = -s * q[..., 0] + c * q[..., 1]
    return jnp.stack([u * e, v / e], axis=-1)


def _convex_field(draws, p, extent, anchor=None):
    """Gauge of a random convex polygon: max over its half-planes of (q . n_k) / d_k."""
    k_max = _MAX_HALFPLANES
    q = _stretch(draws, p - _centre(draws, extent, 0.3, anchor))
    sides = draws.randint(3, k_max + 1)
    spacing = 2 * math.pi / sides
    # jitter < 0.2 spacing keeps every gap between normals below pi: the polygon is bounded
    k = jnp.arange(k_max, dtype=jnp.float32) + draws.uniform(-0.2, 0.2, (k_max,))
    phi = draws.uniform(0, 2 * math.pi) + spacing * k
    d = draws.uniform(0.15, 0.45) * draws.uniform(0.7, 1.0, (k_max,))
    normals = jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=-1)  # (K, 2)
    g = jnp.matmul(q, normals.T, precision=_EXACT) / d  # (H, W, K)
    g = jnp.where(jnp.arange(k_max) < sides, g, -jnp.inf)
    return jnp.maximum(jnp.max(g, axis=-1), 0.0)


def _cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _star_field(draws, p, extent, anchor=None):
    """Gauge of a random star-shaped polygon: in the angular sector of edge (v_k, v_k+1),
    ``cross(e, q) / cross(e, v_k)`` with ``e = v_k+1 - v_k`` (1 on the edge, 0 at the centre)."""
    n = _STAR_VERTICES
    q = _stretch(draws, p - _centre(draws, extent, 0.15, anchor))
    spacing = 2 * math.pi / n
    alpha = spacing * (jnp.arange(n, dtype=jnp.float32) + draws.uniform(-0.4, 0.4, (n,)))
    alpha = alpha + draws.uniform(0, 2 * math.pi)
    radii = draws.uniform(0.12, 0.4) * draws.uniform(0.3, 1.0, (n,))
    verts = radii[:, None] * jnp.stack([jnp.cos(alpha), jnp.sin(alpha)], axis=-1)  # (n, 2)
    nxt = jnp.roll(verts, -1, axis=0)
    rel = jnp.mod(jnp.arctan2(q[..., 1], q[..., 0]) - alpha[0], 2 * math.pi)
    sector = jnp.sum(rel[..., None] >= (alpha[1:] - alpha[0]), axis=-1)  # (H, W) in [0, n)
    onehot = (sector[..., None] == jnp.arange(n)).astype(jnp.float32)  # gather-free (vmap)
    va = jnp.matmul(onehot, verts, precision=_EXACT)
    e = jnp.matmul(onehot, nxt, precision=_EXACT) - va
    return jnp.maximum(_cross(e, q) / _cross(e, va), 0.0)


def _blob_field(draws, p, extent, anchor=None):
    """sqrt(-2 log F), F a sum of weighted anisotropic Gaussians (a distance in their sigmas)."""
    m = _BLOB_GAUSSIANS
    centre = _centre(draws, extent, 0.1, anchor)
    radius = draws.uniform(0.1, 0.3)
    mus = centre + radius * 0.8 * draws.normal(shape=(m, 2))
    sig = radius * draws.uniform(0.25, 0.7, (m,))
    logw = jnp.log(draws.uniform(0.3, 1.0, (m,)))
    q = _stretch(draws, p[None] - mus[:, None, None], shape=(m,))  # (m, H, W, 2)
    logf = jax.nn.logsumexp(logw[:, None, None] - 0.5 * jnp.sum(q * q, -1) / sig[:, None, None] ** 2, 0)
    return jnp.sqrt(jnp.maximum(-2.0 * logf, 0.0))


def _thin_field(draws, p, extent):
    """min over 1..4 segments of distance / half-width (<= 1 inside a segment), and the smallest
    half-width; after the first, each segment branches off the previous one half of the time."""
    count = draws.randint(1, _MAX_SEGMENTS + 1)
    starts, ends, widths, angles = [], [], [], []
    for j in range(_MAX_SEGMENTS):  # static unroll over scalars; the pixels are done at once
        angle = draws.uniform(0, 2 * math.pi)
        length = draws.uniform(0.3, 1.2)
        width = draws.uniform(0.008, 0.035)
        direction = jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        start = _centre(draws, extent, 0.0) - 0.5 * length * direction
        if j > 0:
            branch = draws.bernoulli(0.5)
            t = draws.uniform(0.2, 0.8)
            turn = draws.uniform(0.3, 1.0) * jnp.where(draws.bernoulli(0.5), 1.0, -1.0)
            start = jnp.where(branch, starts[-1] + t * (ends[-1] - starts[-1]), start)
            angle = jnp.where(branch, angles[-1] + turn, angle)
            length = jnp.where(branch, 0.5 * length, length)
            width = jnp.where(branch, jnp.minimum(width, 0.7 * widths[-1]), width)
        starts.append(start)
        ends.append(start + length * jnp.stack([jnp.cos(angle), jnp.sin(angle)]))
        widths.append(width)
        angles.append(angle)
    a = jnp.stack(starts)[:, None, None]  # (S, 1, 1, 2)
    ab = jnp.stack(ends)[:, None, None] - a
    rel = p[None] - a  # (S, H, W, 2)
    t = jnp.clip(jnp.sum(rel * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    dist = jnp.linalg.norm(rel - t[..., None] * ab, axis=-1)
    widths = jnp.stack(widths)
    active = jnp.arange(_MAX_SEGMENTS) < count
    field = jnp.where(active[:, None, None], dist / widths[:, None, None], jnp.inf)
    return jnp.min(field, axis=0), jnp.min(jnp.where(active, widths, jnp.inf))


# ----------------------------------------------------------------------------- the penumbra


def _blur_matrix(n, sigma):
    """(n, n) row-stochastic matrix: pixel-integrated Gaussian with edge-replicate borders,
    truncated at 3 sigma (+ half a pixel) and renormalised."""
    i = jnp.arange(n, dtype=jnp.float32)[:, None]
    j = jnp.arange(n, dtype=jnp.float32)[None, :]
    scale = 1.0 / (sigma * math.sqrt(2.0))
    lo = jnp.where(j == 0, -jnp.inf, (j - 0.5 - i) * scale)
    hi = jnp.where(j == n - 1, jnp.inf, (j + 0.5 - i) * scale)
    weights = 0.5 * (jax.lax.erf(hi) - jax.lax.erf(lo))
    weights = jnp.where(jnp.abs(j - i) - 0.5 <= 3.0 * sigma, weights, 0.0)
    weights = jnp.where(i == j, jnp.maximum(weights, 1e-30), weights)  # never an all-zero row
    return weights / jnp.sum(weights, axis=1, keepdims=True)


def _blur(matte, sigma):
    """Separable Gaussian blur of an (H, W) matte, as M_H @ matte @ M_W^T."""
    h, w = matte.shape
    out = jnp.matmul(_blur_matrix(h, sigma), matte, precision=_EXACT)
    return jnp.matmul(out, _blur_matrix(w, sigma).T, precision=_EXACT)
