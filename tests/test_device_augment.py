"""Paired augmentations: one transform per example, identical on every array of the example."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxshadow.data.device_augment import (color_jitter, paired_augment, random_crop, random_flip,
                                    random_rot90)

N, H, W = 8, 20, 24


def make_batch(n=N, h=H, w=W):
    """Every pixel holds a unique id (example, row, column): any transform can be read back.
    The three arrays carry the same content in different forms (3 channels, uint8, scaled)."""
    ids = np.arange(n * h * w, dtype=np.float32).reshape(n, h, w, 1)
    return {
        "shadow": np.repeat(ids, 3, axis=-1),
        "mask": (ids % 251).astype(np.uint8),
        "free": 2.0 * ids,
    }


def assert_same_transform(out):
    ids = np.asarray(out["shadow"][..., :1])
    for c in range(3):
        np.testing.assert_array_equal(np.asarray(out["shadow"][..., c : c + 1]), ids)
    np.testing.assert_array_equal(np.asarray(out["mask"]), (ids % 251).astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(out["free"]), 2.0 * ids)


def dihedral(window):
    """The 8 flips / quarter turns of an (h, w, c) array."""
    out = []
    for k in range(4):
        r = np.rot90(window, k, axes=(0, 1))
        out += [r, r[:, ::-1]]
    return out


def test_crop_flip_rot90_identical_on_all_arrays():
    batch = make_batch()
    out = paired_augment(jax.random.key(0), batch, crop=12, flip=True, rot90=True, vertical_flip=True)
    assert out["shadow"].shape == (N, 12, 12, 3) and out["mask"].shape == (N, 12, 12, 1)
    assert out["mask"].dtype == jnp.uint8 and out["free"].dtype == jnp.float32
    assert_same_transform(out)
    ids = batch["shadow"][..., :1]
    for n in range(N):  # each example is a transformed 12x12 window of its own image
        got = np.asarray(out["shadow"][n, ..., :1])
        y, x = divmod(int(got.min()) - n * H * W, W)
        window = ids[n, y : y + 12, x : x + 12]
        assert any(np.array_equal(got, d) for d in dihedral(window)), n


def test_crop_only_is_a_window():
    batch = make_batch()
    out = paired_augment(jax.random.key(1), batch, crop=(7, 9), flip=False)
    assert out["free"].shape == (N, 7, 9, 1)
    assert_same_transform(out)
    for n in range(N):
        got = np.asarray(out["free"][n])
        y, x = divmod(int(got[0, 0, 0] / 2) - n * H * W, W)
        np.testing.assert_array_equal(got, batch["free"][n, y : y + 7, x : x + 9])


def test_different_keys_and_examples_give_different_crops():
    batch = make_batch()
    batch = {k: np.broadcast_to(v[:1], v.shape) for k, v in batch.items()}  # N copies of one image
    corners = set()
    for seed in range(4):
        out = paired_augment(jax.random.key(seed), batch, crop=(7, 9), flip=False)
        corners |= {int(c) for c in np.asarray(out["free"][:, 0, 0, 0])}
    assert len(corners) > 16  # 32 crops from 14 * 16 possible windows


def test_same_key_same_result_and_outer_jit_matches():
    batch = make_batch()
    key = jax.random.key(3)
    options = dict(crop=12, flip=True, rot90=True, vertical_flip=True)  # as in the first test
    a = paired_augment(key, batch, **options)
    b = paired_augment(key, batch, **options)
    c = jax.jit(lambda k, x: paired_augment(k, x, **options))(key, batch)
    for name in batch:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(c[name]))


def test_flips_are_involutions_and_happen_half_the_time():
    example = {k: v[0] for k, v in make_batch().items()}
    flip_twice = jax.jit(lambda k, e: random_flip(k, random_flip(k, e, vertical=True), vertical=True))
    flipped = 0
    for seed in range(32):
        key = jax.random.key(seed)
        twice = flip_twice(key, example)
        for name in example:
            np.testing.assert_array_equal(np.asarray(twice[name]), example[name])
        once = random_flip(key, example)
        flipped += not np.array_equal(np.asarray(once["free"]), example["free"])
    assert 6 <= flipped <= 26, flipped


def test_rot90_four_times_is_identity_and_non_square_keeps_shape():
    square = {k: v[0, :, :20] for k, v in make_batch().items()}  # 20 x 20
    wide = {k: v[0] for k, v in make_batch().items()}  # 20 x 24
    seen = set()
    for seed in range(12):
        key = jax.random.key(seed)
        out = square
        for _ in range(4):
            out = random_rot90(key, out)
        np.testing.assert_array_equal(np.asarray(out["shadow"]), square["shadow"])
        rotated = np.asarray(random_rot90(key, wide)["free"])
        assert rotated.shape == wide["free"].shape
        same = np.array_equal(rotated, wide["free"])
        assert same or np.array_equal(rotated, wide["free"][::-1, ::-1])  # k in {0, 2}
        seen.add(same)
    assert seen == {True, False}


def test_random_crop_on_a_tuple():
    image, mask = np.ones((10, 12, 3), np.float32), np.zeros((10, 12, 1), np.float32)
    out = random_crop(jax.random.key(0), (image, mask), 4)
    assert isinstance(out, tuple) and out[0].shape == (4, 4, 3) and out[1].shape == (4, 4, 1)


def test_bad_shapes_raise():
    batch = make_batch()
    with pytest.raises(ValueError):
        paired_augment(jax.random.key(0), batch, crop=(H + 1, 4))
    with pytest.raises(ValueError):
        paired_augment(jax.random.key(0), {"a": np.zeros((2, 8, 8, 1)), "b": np.zeros((2, 8, 9, 1))})
    with pytest.raises(ValueError):
        paired_augment(jax.random.key(0), {"a": np.zeros((2, 8, 8, 1)), "b": np.zeros((3, 8, 8, 1))})
    with pytest.raises(ValueError):
        random_flip(jax.random.key(0), {"a": np.zeros((8, 8))})


def test_color_jitter_recolours_every_image_of_an_example_alike():
    rng = np.random.default_rng(0)
    free = rng.uniform(0.0, 0.7, (N, H, W, 3)).astype(np.float32)
    shadow = 0.5 * free
    out = color_jitter(jax.random.key(4), {"shadow": shadow, "free": free}, gain=(0.8, 1.25))
    assert set(out) == {"shadow", "free"}
    seen = set()
    for i in range(N):
        recoloured = np.asarray(out["free"][i])
        # each output channel is one input channel times one gain: find which
        order, gains = [], []
        for c in range(3):
            ratios = [recoloured[..., c] / free[i, ..., k] for k in range(3)]
            k = int(np.argmin([np.ptp(r) for r in ratios]))
            order.append(k)
            gains.append(float(np.median(ratios[k])))
            assert np.ptp(ratios[k]) < 1e-5
        assert sorted(order) == [0, 1, 2] and all(0.8 <= g <= 1.25 for g in gains)
        # the shadow image went through the same transform
        expected = np.clip(shadow[i][..., order] * np.array(gains, np.float32), 0, 1)
        np.testing.assert_allclose(out["shadow"][i], expected, rtol=1e-5, atol=1e-6)
        seen.add(tuple(order))
    assert len(seen) > 1  # different examples, different recolourings


def test_color_jitter_clips_and_rejects_non_rgb():
    bright = np.ones((2, 4, 4, 3), np.float32)
    out = color_jitter(jax.random.key(0), {"x": bright}, gain=(1.5, 2.0))["x"]
    np.testing.assert_array_equal(out, bright)
    with pytest.raises(ValueError, match="color_jitter"):
        color_jitter(jax.random.key(0), {"mask": np.ones((2, 4, 4, 1), np.float32)})
