"""Augmentation on the device, in pure JAX, inside the jitted step: the data flow is

    source (files, tfds) -> host pipeline (uint8 batches, data/pipeline.py) -> device
    augmentation (here) -> the step

Paired crops, flips and rotations (one random transform, many arrays), colour jitter, dead-leaves
images in place of photos, and shadows rendered on shadow-free images (`data/synthetic.py`) for
training (one key per batch) and for evaluation (one key per example, from (eval_seed, index),
so the evaluation set is the same in every run).

A shadow-removal example is several aligned arrays (shadow image, mask, shadow-free image); an
augmentation must move all of them the same way. Every function here therefore takes a pytree
``arrays`` of one example's arrays, each ``(H, W, C)`` with the same ``H, W`` (any ``C`` and
dtype), draws its random numbers *once* from ``key``, and applies that transform to every leaf.
``paired_augment`` does this for a batch dict of ``(N, H, W, C)`` arrays, with per-example keys
``jax.random.split(key, N)``, under ``jax.vmap``.

The deterministic ops are dm-pix's (``flip_left_right``, ``flip_up_down``, ``rot90``). Its
random ops (``random_crop``, ``random_flip_*``) draw per call, so the crop offset is drawn here
and cut with ``jax.lax.dynamic_slice`` instead. Everything is jit- and vmap-able: shapes are
static, choices are ``jnp.where`` on traced values.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import dm_pix
import jax
import jax.numpy as jnp

from jaxshadow.color import linear_to_srgb, srgb_to_linear
from jaxshadow.data.dead_leaves import dead_leaves
from jaxshadow.data.synthetic import render

__all__ = ["add_veil", "color_jitter", "eval_shadows", "mix_dead_leaves", "paired_augment",
           "random_crop", "random_flip", "random_rot90"]


def _spatial_shape(arrays):
    """The (H, W) shared by all leaves; raises unless every leaf is (H, W, C)."""
    leaves = jax.tree_util.tree_leaves(arrays)
    if not leaves:
        raise ValueError("augment: no arrays given")
    shapes = {tuple(jnp.shape(x)[:2]) for x in leaves}
    if any(jnp.ndim(x) != 3 for x in leaves) or len(shapes) != 1:
        raise ValueError(
            "augment: every array must be (H, W, C) with the same H, W; got shapes "
            f"{[tuple(jnp.shape(x)) for x in leaves]}"
        )
    return shapes.pop()


def _crop_size(size):
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def random_crop(key, arrays, size):
    """Cuts the same random ``size`` window out of every array.

    Args:
      key: PRNG key.
      arrays: pytree of ``(H, W, C)`` arrays of one example.
      size: ``int`` (square) or ``(height, width)``, at most ``(H, W)``.

    Returns:
      The pytree with every leaf ``(height, width, C)``; the offset is uniform over all windows.
    """
    return _crop(arrays, jax.random.uniform(key, (2,)), size)


def random_flip(key, arrays, *, horizontal=True, vertical=False):
    """Mirrors every array left-right (probability 1/2 if ``horizontal``) and independently
    top-bottom (probability 1/2 if ``vertical``), the same way for all arrays."""
    return _flip(arrays, jax.random.uniform(key, (2,)), horizontal, vertical)


def random_rot90(key, arrays):
    """Rotates every array by the same random multiple of 90 degrees (counter-clockwise).

    Square arrays: ``k`` uniform in {0, 1, 2, 3}. Non-square arrays: a quarter turn would change
    the (static) shape, so ``k`` is uniform in {0, 2} (identity or half turn) instead.
    """
    return _rot90(arrays, jax.random.uniform(key))


def paired_augment(key, batch: Mapping, *, crop=None, flip=True, rot90=False, vertical_flip=False):
    """Applies one random transform per example, identically to every array of the batch dict.

    Args:
      key: PRNG key; example ``i`` uses ``jax.random.split(key, N)[i]``.
      batch: mapping name -> ``(N, H, W, C)`` array (e.g. shadow, mask, free), same ``N, H, W``.
      crop: ``None`` (no crop), an ``int`` or ``(height, width)``: random crop of that size.
      flip: random left-right mirror.
      rot90: random quarter turns (square crops; half turns only otherwise, see random_rot90).
      vertical_flip: random top-bottom mirror as well.

    Returns:
      A dict with the same keys; order of operations: crop, flip, rot90. Jitted (the options
      are static) and composable with an outer ``jax.jit`` / ``jax.vmap``.
    """
    batch = dict(batch)
    leaves = jax.tree_util.tree_leaves(batch)
    shapes = {jnp.shape(x)[:3] if jnp.ndim(x) == 4 else None for x in leaves}
    if len(shapes) != 1 or None in shapes:
        raise ValueError(
            "paired_augment: every array must be (N, H, W, C) with the same N, H, W; got "
            f"{ {name: tuple(jnp.shape(x)) for name, x in batch.items()} }"
        )
    if crop is not None:
        crop = _crop_size(crop)
        _check_crop(crop, leaves[0].shape[1:3])
    return _paired_augment(key, batch, crop, bool(flip), bool(rot90), bool(vertical_flip))


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _paired_augment(key, batch, crop, flip, rot90, vertical_flip):
    def one(k, example):
        # one PRNG call per example (each call costs compile time): 2 crop + 2 flip + 1 turn
        u = jax.random.uniform(k, (5,))
        if crop is not None:
            example = _crop(example, u[0:2], crop)
        if flip or vertical_flip:
            example = _flip(example, u[2:4], flip, vertical_flip)
        if rot90:
            example = _rot90(example, u[4])
        return example

    keys = jax.random.split(key, jax.tree_util.tree_leaves(batch)[0].shape[0])
    return jax.vmap(one)(keys, batch)


# Deterministic given uniforms u in [0, 1): the random choice is made once, applied to all leaves.


def _index(u, n):
    """An integer uniform in [0, n) from a uniform u in [0, 1)."""
    return jnp.clip(jnp.floor(u * n).astype(jnp.int32), 0, n - 1)


def _check_crop(crop, spatial):
    (ch, cw), (h, w) = crop, spatial
    if not (0 < ch <= h and 0 < cw <= w):
        raise ValueError(f"random_crop: crop {(ch, cw)} does not fit in images of {(h, w)}")


def _crop(arrays, u, size):
    h, w = _spatial_shape(arrays)
    ch, cw = _crop_size(size)
    _check_crop((ch, cw), (h, w))
    top = _index(u[0], h - ch + 1)
    left = _index(u[1], w - cw + 1)
    zero = jnp.zeros((), jnp.int32)

    def cut(x):
        return jax.lax.dynamic_slice(x, (top, left, zero), (ch, cw, x.shape[2]))

    return jax.tree_util.tree_map(cut, arrays)


def _flip(arrays, u, horizontal, vertical):
    _spatial_shape(arrays)
    flip_h = (u[0] < 0.5) & horizontal
    flip_v = (u[1] < 0.5) & vertical

    def flip(x):
        x = jnp.where(flip_h, dm_pix.flip_left_right(x), x)
        return jnp.where(flip_v, dm_pix.flip_up_down(x), x)

    return jax.tree_util.tree_map(flip, arrays)


def _rot90(arrays, u):
    h, w = _spatial_shape(arrays)
    turns = (0, 1, 2, 3) if h == w else (0, 2)
    index = _index(u, len(turns))

    def rotate(x):  # a select, not lax.switch: under vmap a switch becomes a select anyway
        out = x
        for i, n in enumerate(turns[1:], start=1):
            out = jnp.where(index == i, dm_pix.rot90(x, n), out)
        return out

    return jax.tree_util.tree_map(rotate, arrays)


@functools.partial(jax.jit, static_argnames="gain")
def color_jitter(key, batch: Mapping, gain=(0.7, 1.3)):
    """Recolours each example: a random order of the RGB channels, then per-channel gains.

    ``y[..., c] = clip(g_c * x[..., perm[c]], 0, 1)``, ``perm`` uniform over the 6 orders and
    ``g_c ~ U(gain)``, drawn once per example and applied to every leaf of ``batch`` (a mapping
    name -> ``(N, H, W, 3)`` float images in [0, 1], e.g. a shadow image and its shadow-free
    pair). A model trained on a few photos otherwise learns their colours instead of the shadow.
    """
    n = jax.tree_util.tree_leaves(batch)[0].shape[0]
    perm_key, gain_key = jax.random.split(key)
    perms = jax.vmap(lambda k: jax.random.permutation(k, 3))(jax.random.split(perm_key, n))
    gains = jax.random.uniform(gain_key, (n, 1, 1, 3), minval=gain[0], maxval=gain[1])

    def recolour(x):
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"color_jitter: images must be (N, H, W, 3), got {x.shape}")
        x = jnp.take_along_axis(x, perms[:, None, None, :], axis=-1)
        return jnp.clip(x * gains.astype(x.dtype), 0.0, 1.0)

    return {name: recolour(x) for name, x in batch.items()}


def add_veil(key, batch: Mapping, fraction, strength=(0.0, 0.2), tint=0.05):
    """Veiling light (haze, lens flare) over a `fraction` of the examples, the same over every
    leaf of ``batch`` (a mapping name -> ``(N, H, W, 3)`` sRGB images in [0, 1], e.g. a shadow
    image and its shadow-free pair), in linear RGB:

        y = (1 - v) x + v a,   v ~ U(strength),   a = l (1 + t),  l ~ U(0.6, 1),  t_c ~ U(±tint)

    Scattered light adds the same radiance to lit and shaded surfaces, so it lifts a shadow
    towards the lit ground: in linear RGB the difference between the two images is scaled by
    1 - v everywhere. Camera lenses add 1-5 % of a white as veiling glare (ISO 9358), and light
    haze adds an airlight fraction 1 - exp(-beta d) of 4-18 % for surfaces 100-500 m away
    (visibility 10 km, beta = 3.9 / 10 km; Koschmieder): a photograph's shadows are often
    lighter and flatter than those rendered on crisp, tone-mapped wallpapers.
    """
    n = jax.tree_util.tree_leaves(batch)[0].shape[0]
    pick_key, strength_key, level_key, tint_key = jax.random.split(key, 4)
    picked = jax.random.uniform(pick_key, (n, 1, 1, 1)) < fraction
    v = jnp.where(picked, jax.random.uniform(strength_key, (n, 1, 1, 1), minval=strength[0],
                                             maxval=strength[1]), 0.0)
    level = jax.random.uniform(level_key, (n, 1, 1, 1), minval=0.6, maxval=1.0)
    air = jnp.clip(level * (1.0 + jax.random.uniform(tint_key, (n, 1, 1, 3), minval=-tint,
                                                       maxval=tint)), 0.0, 1.0)

    def veiled(x):
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"add_veil: images must be (N, H, W, 3), got {x.shape}")
        y = (1.0 - v) * srgb_to_linear(x) + v * air
        return jnp.clip(linear_to_srgb(y), 0.0, 1.0).astype(x.dtype)

    return {name: veiled(x) for name, x in batch.items()}


def mix_dead_leaves(key, images, fraction, allowed=None):
    """Replaces each image of (N, H, W, C) `images` by a dead-leaves image with probability
    `fraction` (only where `allowed` (N,) is true, when given), its colours drawn from the
    batch (`jaxshadow.data.dead_leaves`)."""
    leaves_key, pick_key = jax.random.split(key)
    leaves = dead_leaves(leaves_key, images)
    replace = jax.random.uniform(pick_key, (images.shape[0], 1, 1, 1)) < fraction
    if allowed is not None:
        replace = replace & allowed[:, None, None, None]
    return jnp.where(replace, leaves, images)


def eval_shadows(eval_seed, index, shadow_free, config):
    """Rendered evaluation shadows: example i of (N, H, W, 3) `shadow_free` gets the key
    fold_in(key(eval_seed), index[i]), so it has the same shadow whatever batch it is in, in
    every run; every one has a shadow and is placed and darkened as the preset places and
    darkens them (`config.shadow_free`, `bright_anchor` and `mild` change what a run trains on),
    so the figures of runs trained with and without them compare. -> (shadow (N, H, W, 3), mask
    (N, H, W, 1))."""
    if config is not None:
        config = dataclasses.replace(config, shadow_free=0.0, bright_anchor=0.0, mild=0.0)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(eval_seed), i))(index)
    return jax.vmap(lambda k, im: jax.tree.map(lambda a: a[0], render(k, im[None], config=config)))(
        keys, shadow_free)
