"""Veiling light (`add_veil`): one scattered-light layer per example, over both images of a
pair, in training only."""

from pathlib import Path

import jax
import numpy as np
import pytest

from jaxshadow import config as config_lib
from jaxshadow.color import srgb_to_linear
from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.device_augment import add_veil
from jaxshadow.errors import UserError
from jaxshadow.tasks import make_task
from jaxshadow.tasks.shadow_pairs import shadow_pairs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _pair(n=6, h=12, w=10):
    rng = np.random.default_rng(0)
    free = rng.uniform(0.05, 1.0, (n, h, w, 3)).astype(np.float32)
    shade = rng.uniform(0.2, 0.6, (n, h, w, 1)).astype(np.float32)
    return free * shade, free  # a shadow image darker than its pair everywhere


def _linear(x):
    return np.asarray(srgb_to_linear(np.asarray(x, np.float64)))


def test_a_veil_scales_the_difference_between_the_two_images_by_one_minus_its_strength():
    shadow, free = _pair()
    out = add_veil(jax.random.key(1), {"shadow": shadow, "free": free}, 1.0, strength=(0.1, 0.1))
    gap_in = _linear(free) - _linear(shadow)
    gap_out = _linear(out["free"]) - _linear(out["shadow"])
    np.testing.assert_allclose(gap_out, 0.9 * gap_in, atol=2e-5)
    # the light it adds: 0.1 of an airlight between 0.6 and 1 (tint ±5 %), the same in both
    added = _linear(out["free"]) - 0.9 * _linear(free)
    assert added.min() > 0.1 * 0.6 * 0.95 - 2e-5 and added.max() < 0.1 * 1.05 + 2e-5
    np.testing.assert_allclose(added, _linear(out["shadow"]) - 0.9 * _linear(shadow), atol=2e-5)
    # one airlight per example: constant over its pixels
    assert np.ptp(added.reshape(len(free), -1, 3), axis=1).max() < 5e-5
    # a shadow under a veil is lighter relative to its lit ground
    assert np.all(_linear(out["shadow"]) / _linear(out["free"])
                  > _linear(shadow) / _linear(free) - 1e-6)


def test_a_veil_covers_about_its_fraction_of_the_examples():
    shadow, free = _pair(n=400, h=2, w=2)
    out = add_veil(jax.random.key(2), {"free": free}, 0.5, strength=(0.05, 0.2))
    veiled = np.abs(np.asarray(out["free"]) - free).reshape(400, -1).max(axis=1) > 1e-3
    assert 150 < veiled.sum() < 250
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        add_veil(jax.random.key(0), {"mask": free[..., :1]}, 1.0)


def test_training_pairs_get_the_veil_and_evaluation_pairs_do_not():
    shadow, free = _pair()
    mask = np.ones(shadow.shape[:3] + (1,), np.uint8) * 255
    batch = {"shadow": np.round(shadow * 255).astype(np.uint8),
             "shadow_free": np.round(free * 255).astype(np.uint8), "mask": mask,
             "index": np.arange(len(free))}
    kwargs = dict(render_shadows=False, flip=False)
    plain = shadow_pairs(batch, jax.random.key(3), True, **kwargs)
    veiled = shadow_pairs(batch, jax.random.key(3), True, veil=1.0, **kwargs)
    np.testing.assert_array_equal(veiled["mask"], plain["mask"])
    ratio = ((_linear(veiled["shadow_free"]) - _linear(veiled["shadow"]))
             / (_linear(plain["shadow_free"]) - _linear(plain["shadow"])))
    per_example = ratio.reshape(len(free), -1)
    assert np.all(np.ptp(per_example, axis=1) < 1e-3)  # one strength per example
    assert np.all((per_example > 0.8 - 1e-3) & (per_example < 1.0 + 1e-6))
    assert np.ptp(per_example[:, 0]) > 0.01  # drawn per example
    evaluated = shadow_pairs(batch, jax.random.key(3), False, veil=1.0, **kwargs)
    np.testing.assert_array_equal(evaluated["shadow"], batch["shadow"] / np.float32(255))


def test_a_veil_for_detection_on_masks_of_its_own_is_named():
    config = config_lib.resolve(CONFIGS / "sbu_detector.py", ["--config.data.veil=0.5"])
    images = np.zeros((2, 8, 8, 3), np.uint8)
    arrays = ArraySource(config.data.source, {"train": {"image": images,
                                                        "mask": images[..., :1]}},
                         task="detection")
    with pytest.raises(UserError, match="data.veil needs a source whose shadows are rendered"):
        make_task(config, arrays)
