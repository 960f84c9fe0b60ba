"""Property tests of the synthetic shadow renderer, over many keys and two image shapes.

Three renders are compiled once per module and shared: 16 square images with the default
config, 2 x 16 square images through ``jax.jit(jax.vmap(render))``, and 8 non-square images
with a custom config (darkening on linear values, narrower coverage).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxshadow.data import synthetic
from jaxshadow.data.synthetic import ShadowConfig, render

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
CUSTOM = ShadowConfig(coverage=(0.25, 0.45), thin_only_coverage=(0.25, 0.45), darken_space="linear")


def smooth_images(seed, n, h, w):
    """Smooth random colour fields in [0.03, 0.97] (bilinear upsampling of a 5x6 grid)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0.03, 0.97, (n, 5, 6, 3))

    def interp(n_out, n_in):
        pos = np.linspace(0, n_in - 1, n_out)
        return np.stack([np.interp(pos, np.arange(n_in), row) for row in np.eye(n_in)], axis=1)

    return np.einsum("hi,nijc,wj->nhwc", interp(h, 5), low, interp(w, 6)).astype(np.float32)


@functools.cache
def _square():
    images = smooth_images(0, 16, 64, 64)
    shadowed, mask = render(jax.random.key(0), images)
    return images, shadowed, mask


@functools.cache
def _batched():
    images = np.stack([smooth_images(1, 16, 64, 64), smooth_images(2, 16, 64, 64)])
    keys = jax.random.split(jax.random.key(1), 2)
    shadowed, mask = jax.jit(jax.vmap(render))(keys, images)
    return keys, images, shadowed, mask


@functools.cache
def _wide():
    images = smooth_images(3, 8, 96, 128)
    shadowed, mask = render(jax.random.key(2), images, config=CUSTOM)
    return images, shadowed, mask


@pytest.fixture(scope="module", params=["square", "batched", "wide"])
def case(request):
    """(images, shadowed, mask) as NumPy, flattened to one batch axis."""
    if request.param == "square":
        images, shadowed, mask = _square()
    elif request.param == "batched":
        _, images, shadowed, mask = _batched()
    else:
        images, shadowed, mask = _wide()
    assert shadowed.dtype == jnp.float32 and mask.dtype == jnp.float32
    assert shadowed.shape == images.shape and mask.shape == images.shape[:-1] + (1,)
    flat = lambda a: np.asarray(a).reshape((-1,) + a.shape[-3:])
    return request.param, flat(images), flat(shadowed), flat(mask)


def test_lit_pixels_are_bit_identical(case):
    _, images, shadowed, mask = case
    lit = mask[..., 0] == 0
    assert (lit.mean(axis=(1, 2)) > 0.05).all()  # every image has lit pixels to check
    np.testing.assert_array_equal(shadowed[lit].view(np.uint32), images[lit].view(np.uint32))


def test_shadow_only_darkens(case):
    _, images, shadowed, _ = case
    assert (shadowed <= images).all()
    assert shadowed.min() >= 0.0 and shadowed.max() <= 1.0


def test_mask_is_soft_and_in_range(case):
    _, _, _, mask = case
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    soft = ((mask > 0.02) & (mask < 0.98)).mean(axis=(1, 2, 3))
    assert (soft > 0.0).all(), "every mask has a penumbra"
    # (no "every mask reaches 1": a thin pole under a wide penumbra casts a faint shadow only)


def test_coverage(case):
    name, _, _, mask = case
    coverage = (mask > 0.5).mean(axis=(1, 2, 3))
    if name == "wide":  # CUSTOM: 25%..45% of the hard matte
        assert (coverage > 0.18).all() and (coverage < 0.5).all(), coverage
    else:
        assert (coverage > 0.02).all() and (coverage < 0.85).all(), coverage
        assert 0.15 < coverage.mean() < 0.55, coverage


def test_shadow_darkens_meaningfully_and_bluish(case):
    _, images, shadowed, mask = case
    region = mask[..., 0] > 0.5
    ratios = []
    for x, s, r in zip(images, shadowed, region):
        ratios.append(s[r].sum(0) / x[r].sum(0))  # per channel
    ratios = np.array(ratios)  # (N, 3)
    luma = ratios @ LUMA
    assert (luma < 0.95).all(), luma
    assert luma.mean() < 0.7, luma
    # SynShadow's intercept shifts keep more blue than red in the shadow, on average
    assert (ratios[:, 2] - ratios[:, 0]).mean() > 0


def test_different_keys_give_different_shadows():
    images, _, mask = _square()
    mask = np.asarray(mask)
    flat = (mask > 0.5).reshape(len(mask), -1)
    for i in range(len(flat)):
        for j in range(i):
            assert (flat[i] != flat[j]).mean() > 0.01, (i, j)
    _, other = render(jax.random.key(7), images)
    differs = (np.asarray(other) != mask).mean(axis=(1, 2, 3))
    assert (differs > 0.01).all()


def test_same_key_same_result():
    images, shadowed, mask = _square()
    again_s, again_m = render(jax.random.key(0), images)
    np.testing.assert_array_equal(np.asarray(again_s), np.asarray(shadowed))
    np.testing.assert_array_equal(np.asarray(again_m), np.asarray(mask))


def test_jit_and_vmap_match_plain_calls():
    keys, images, shadowed, mask = _batched()
    for i in range(2):  # same shapes as _square: reuses its compilation
        s, m = render(keys[i], images[i])
        np.testing.assert_array_equal(np.asarray(s), np.asarray(shadowed[i]))
        np.testing.assert_array_equal(np.asarray(m), np.asarray(mask[i]))


def test_config_validation():
    with pytest.raises(ValueError):
        ShadowConfig(coverage=(0.5, 0.2))
    with pytest.raises(ValueError):
        ShadowConfig(darken_space="lab")
    with pytest.raises(ValueError):
        ShadowConfig(kind_weights=(0, 0, 0, 0))
    with pytest.raises(ValueError, match="penumbra_log"):
        ShadowConfig(penumbra=(0.0, 0.1), penumbra_log=True)
    config = ShadowConfig(penumbra=[0.01, 0.02])  # lists become tuples: hashable, static
    assert config.penumbra == (0.01, 0.02) and hash(config) == hash(ShadowConfig(penumbra=(0.01, 0.02)))


def test_shadow_free_fraction_leaves_images_untouched_and_the_rest_as_they_were():
    """shadow_free=0.4 over 64 images: about 40 % keep no shadow (mask 0, output bit-identical
    to the input); every other image is the one the same key renders with shadow_free=0."""
    images = jnp.asarray(smooth_images(4, 64, 32, 32))
    key = jax.random.key(6)
    plain, plain_mask = map(np.asarray, render(key, images))
    shadowed, mask = map(np.asarray, render(key, images, config=ShadowConfig(shadow_free=0.4)))
    empty = mask.reshape(64, -1).max(axis=1) == 0
    assert (plain_mask.reshape(64, -1).max(axis=1) > 0).all()
    assert 14 <= empty.sum() <= 38, empty.sum()
    np.testing.assert_array_equal(shadowed[empty], np.asarray(images)[empty])
    np.testing.assert_array_equal(shadowed[~empty], plain[~empty])
    np.testing.assert_array_equal(mask[~empty], plain_mask[~empty])
    with pytest.raises(ValueError, match="shadow_free"):
        ShadowConfig(shadow_free=1.0)


def test_log_uniform_penumbra_favours_sharp_edges():
    """Same matte draws, sigma log-uniform instead of uniform in (0.005, 0.12): the median
    sigma falls from 0.0625 to 0.024, so fewer pixels lie in the penumbra; a zero-width range
    gives the same sigma either way, so the two renders agree bit for bit."""
    images = jnp.asarray(smooth_images(3, 48, 64, 64))
    key = jax.random.key(5)

    def soft_share(config):
        _, mask = render(key, images, config=config)
        mask = np.asarray(mask)
        return float(np.median(((mask > 0.02) & (mask < 0.98)).mean(axis=(1, 2, 3))))

    uniform = soft_share(ShadowConfig(penumbra=(0.005, 0.12)))
    log_uniform = soft_share(ShadowConfig(penumbra=(0.005, 0.12), penumbra_log=True))
    assert log_uniform < 0.75 * uniform, (log_uniform, uniform)
    fixed = [render(key, images[:4], config=ShadowConfig(penumbra=(0.02, 0.02), penumbra_log=log))
             for log in (False, True)]
    np.testing.assert_array_equal(fixed[0][1], fixed[1][1])


def test_rejects_bad_images():
    with pytest.raises(TypeError):
        render(jax.random.key(0), np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError):
        render(jax.random.key(0), np.zeros((1, 8, 8, 4), np.float32))
    with pytest.raises(ValueError):
        render(jax.random.key(0), np.zeros((8, 8, 3), np.float32))


def _bright_patch_images(n, size=64):
    """Dim smooth colour fields (values <= 0.45) with one bright square (0.92) covering 1/16 of
    each image at a random place."""
    rng = np.random.default_rng(11)
    images = 0.45 * smooth_images(12, n, size, size)
    side = size // 4
    for image in images:
        y, x = rng.integers(0, size - side, 2)
        image[y:y + side, x:x + side] = 0.92
    return jnp.asarray(images), images.max(axis=-1) > 0.9


def test_bright_anchor_casts_shadows_on_the_brightest_surface():
    """bright_anchor=1, quantile 0.95: each image's anchor is a pixel of its bright square (the
    top 5 % of its luminance lies in it) and, for polygons, lies in the umbra (a gauge is 0 at the
    centre); over every kind, at small coverages, much more of the square is shadowed than with
    uniform placement; bright_anchor=0.5: the images that do not use the anchor are the ones
    the plain config renders, bit for bit."""
    images, bright = _bright_patch_images(48)
    key = jax.random.key(9)
    keys = jax.random.split(key, 48)
    small = ShadowConfig(coverage=(0.05, 0.2), bright_anchor=1.0, bright_quantile=0.95)
    points = np.stack([np.asarray(synthetic._bright_anchor(
        synthetic._Draws(jax.random.fold_in(k, 1)), im, small)[0]) for k, im in zip(keys, images)])
    cols, rows = (points * 64 - 0.5).round().astype(int).T
    assert bright[np.arange(48), rows, cols].all()

    polygons = dataclasses.replace(small, kind_weights=(1.0, 1.0, 0.0, 0.0),
                                   extra_kind_prob=(0.0, 0.0, 0.0, 0.0))
    _, mask = render(key, images, config=polygons)
    assert (np.asarray(mask)[np.arange(48), rows, cols, 0] >= 0.5).all()

    def shadowed_share(config):
        _, mask = render(key, images, config=config)
        mask = np.asarray(mask)[..., 0]
        return (mask > 0.5)[bright].mean(), mask

    uniform, _ = shadowed_share(dataclasses.replace(small, bright_anchor=0.0))
    anchored, _ = shadowed_share(small)
    assert anchored > 1.5 * uniform, (anchored, uniform)

    _, plain_mask = shadowed_share(ShadowConfig())
    _, half_mask = shadowed_share(ShadowConfig(bright_anchor=0.5, bright_quantile=0.9))
    same = (half_mask == plain_mask).reshape(48, -1).all(axis=1)
    assert 12 <= same.sum() <= 36, same.sum()
    with pytest.raises(ValueError, match="bright_anchor"):
        ShadowConfig(bright_anchor=1.5)


def test_mild_shadows_keep_white_surfaces_bright_and_the_rest_as_they_were():
    """mild=1 on white images: every umbra value of the green channel (no colour shift) lies
    in mild_y2 = (0.6, 0.9), where the plain config darkens some below 0.45; mild=0.5: the
    masks are the plain ones everywhere and about half the images are identical to them."""
    images = jnp.ones((48, 32, 32, 3), jnp.float32)
    key = jax.random.key(4)
    plain, plain_mask = map(np.asarray, render(key, images))
    mild, mild_mask = map(np.asarray, render(key, images, config=ShadowConfig(mild=1.0)))
    np.testing.assert_array_equal(mild_mask, plain_mask)
    umbra = plain_mask[..., 0] == 1.0
    green = mild[..., 1][umbra]
    assert green.min() >= 0.6 - 1e-5 and green.max() <= 0.9 + 1e-5, (green.min(), green.max())
    assert plain[..., 1][umbra].min() < 0.45

    half, half_mask = map(np.asarray, render(key, images, config=ShadowConfig(mild=0.5)))
    np.testing.assert_array_equal(half_mask, plain_mask)
    same = (half == plain).reshape(48, -1).all(axis=1)
    assert 12 <= same.sum() <= 36, same.sum()
    with pytest.raises(ValueError, match="mild_y2"):
        ShadowConfig(mild_y2=(0.9, 0.6))
