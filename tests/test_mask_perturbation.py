"""Perturbed masks for the remover: only the chosen images change, within [0, 1], and the
joint model's evaluation, logits and parameters are those of the model without it."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import models
from jaxshadow.models.mask_perturbation import perturb_mask, random_regions
from tests.test_unet import _init


def _mask(n=32, size=24, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(size=(n, size, size, 1)), jnp.float32)


def test_rate_zero_is_the_identity_and_rate_one_changes_every_image():
    mask = _mask()
    np.testing.assert_array_equal(perturb_mask(jax.random.key(0), mask, 0.0), mask)
    changed = perturb_mask(jax.random.key(0), mask, 1.0)
    differs = np.any(np.asarray(changed != mask), axis=(1, 2, 3))
    assert differs.mean() > 0.9  # a region can fall below its threshold everywhere, rarely


def test_unchosen_images_keep_the_mask_exactly_and_all_stay_in_range():
    mask = _mask(n=200)
    out = np.asarray(perturb_mask(jax.random.key(1), mask, 0.5))
    assert out.min() >= 0.0 and out.max() <= 1.0
    same = np.all(out == np.asarray(mask), axis=(1, 2, 3))
    assert 0.35 < same.mean() < 0.65
    np.testing.assert_array_equal(out, perturb_mask(jax.random.key(1), mask, 0.5))


def test_false_regions_appear_on_an_empty_mask_and_missed_ones_in_a_full_one():
    zeros, ones = jnp.zeros((64, 32, 32, 1)), jnp.ones((64, 32, 32, 1))
    added = np.asarray(perturb_mask(jax.random.key(2), zeros, 1.0))
    removed = np.asarray(perturb_mask(jax.random.key(2), ones, 1.0))
    assert (added.max(axis=(1, 2, 3)) > 0.25).mean() > 0.8   # strength a >= 0.3
    assert added.max() <= 1.0
    assert (removed.min(axis=(1, 2, 3)) < 0.75).mean() > 0.8
    assert removed.min() >= 0.0


def test_regions_are_soft_blobs_of_a_few_to_half_the_frame():
    regions = np.asarray(random_regions(jax.random.key(3), 200, 128, 128))  # a training crop
    coverage = (regions > 0.5).mean(axis=(1, 2, 3))
    assert 0.1 < np.median(coverage) < 0.4 and coverage.max() < 0.9
    steps = np.abs(np.diff(regions, axis=1)).max()
    assert steps < 0.5  # no hard edges: each region's edge ramps over several pixels


def test_joint_model_perturbs_only_the_removers_mask_in_training():
    kwargs = dict(detector_features=(8,), remover_features=(8,))
    plain = models.get("joint", **kwargs)
    perturbed = models.get("joint", mask_perturbation=1.0, **kwargs)
    x = jax.random.uniform(jax.random.key(4), (4, 16, 16, 3))
    params = _init(plain, x)["params"]
    assert jax.tree.structure(params) == jax.tree.structure(_init(perturbed, x)["params"])
    rngs = {"dropout": jax.random.key(5)}
    reference = plain.apply({"params": params}, x, train=True, rngs=rngs)
    trained = perturbed.apply({"params": params}, x, train=True, rngs=rngs)
    np.testing.assert_array_equal(trained["mask_logits"], reference["mask_logits"])
    assert float(jnp.max(jnp.abs(trained["shadow_free"] - reference["shadow_free"]))) > 1e-4
    evaluated = perturbed.apply({"params": params}, x)
    np.testing.assert_array_equal(evaluated["shadow_free"],
                                  plain.apply({"params": params}, x)["shadow_free"])
