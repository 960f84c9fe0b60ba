"""Losses: values against NumPy / scikit-image references, finite gradients, the weighted sum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import color as skcolor
from skimage import metrics as skmetrics

from jaxshadow import losses


def _pair(shape=(2, 16, 16, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=shape).astype(np.float32), rng.uniform(size=shape).astype(np.float32)


def test_l1_hand_computed():
    pred = np.array([0.0, 0.5, 1.0, 0.25], np.float32).reshape(1, 2, 2, 1)
    target = np.array([0.5, 0.5, 0.0, 0.75], np.float32).reshape(1, 2, 2, 1)
    assert float(losses.l1(pred, target)) == pytest.approx((0.5 + 0.0 + 1.0 + 0.5) / 4)
    assert float(losses.l1(pred, pred)) == 0.0


def test_charbonnier_formula_and_limits():
    pred, target = _pair()
    ref = np.mean(np.sqrt((pred.astype(np.float64) - target) ** 2 + 1e-3**2))
    assert float(losses.charbonnier(pred, target)) == pytest.approx(ref, rel=1e-5)
    assert float(losses.charbonnier(pred, pred)) == pytest.approx(1e-3, rel=1e-5)  # eps, not 0
    far = np.full((1, 4, 4, 3), 0.9, np.float32)
    near = np.full((1, 4, 4, 3), 0.1, np.float32)
    assert float(losses.charbonnier(far, near)) == pytest.approx(float(losses.l1(far, near)),
                                                                 rel=1e-5)


def test_ssim_loss_matches_skimage():
    pred, target = _pair()
    target = 0.7 * pred + 0.3 * target  # correlated, so SSIM is far from 0
    ref = np.mean([skmetrics.structural_similarity(
        p, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        channel_axis=-1) for p, t in zip(pred.astype(np.float64), target.astype(np.float64))])
    assert float(losses.ssim_loss(pred, target)) == pytest.approx(1.0 - ref, abs=1e-5)
    assert float(losses.ssim_loss(pred, pred)) == pytest.approx(0.0, abs=1e-5)


def test_ssim_loss_gradients_finite_on_flat_images():
    flat = jnp.zeros((1, 11, 11, 3))
    for target in (flat, jnp.ones_like(flat)):
        g = jax.grad(losses.ssim_loss)(flat, target)
        assert np.all(np.isfinite(g))


def test_lab_l1_matches_skimage():
    pred, target = _pair()
    lab = lambda x: skcolor.rgb2lab(x.astype(np.float64))
    ref = np.mean(np.abs(lab(pred) - lab(target))) / 100.0
    assert float(losses.lab_l1(pred, target)) == pytest.approx(ref, rel=1e-4)


def test_lab_l1_gradients_finite_at_0_and_1():
    values = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.02], np.float32)
    pred = np.stack(np.meshgrid(values, values, values, indexing="ij"), -1).reshape(1, 6, 36, 3)
    for target in (pred, 1.0 - pred, np.full_like(pred, 0.5)):
        g = jax.grad(losses.lab_l1)(jnp.asarray(pred), jnp.asarray(target))
        assert np.all(np.isfinite(g))
    g = jax.grad(losses.lab_l1)(jnp.asarray(pred), jnp.asarray(1.0 - pred))
    assert np.abs(np.asarray(g)).sum() > 0


@pytest.mark.parametrize("mask_shape", [(2, 4, 5), (2, 4, 5, 1)])
def test_mask_bce_matches_numpy(mask_shape):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(2, 4, 5, 1)).astype(np.float32)
    mask = rng.uniform(size=mask_shape).astype(np.float32)
    z, m = logits.astype(np.float64), mask.reshape(logits.shape).astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-z))
    ref = np.mean(-(m * np.log(p) + (1.0 - m) * np.log(1.0 - p)))
    assert float(losses.mask_bce(logits, mask)) == pytest.approx(ref, rel=1e-5)


def test_mask_bce_balanced_matches_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=3.0, size=(2, 6, 5, 1)).astype(np.float32)
    mask = (rng.uniform(size=(2, 6, 5)) < 0.2).astype(np.float32)  # a fifth of the pixels
    z, m = logits[..., 0].astype(np.float64), mask.astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-z))
    beta = 1.0 - m.mean()
    ref = 2.0 * np.mean(-(beta * m * np.log(p) + (1.0 - beta) * (1.0 - m) * np.log(1.0 - p)))
    got = float(losses.mask_bce_balanced(logits, mask))
    assert got == pytest.approx(ref, rel=1e-5)
    assert got != pytest.approx(float(losses.mask_bce(logits, mask)), rel=1e-2)
    # shadow pixels weigh 1 - 0.2 each, lit ones 0.2: a missed shadow pixel now costs more
    grad = np.asarray(jax.grad(losses.mask_bce_balanced)(jnp.zeros_like(logits), mask))[..., 0]
    assert np.abs(grad[mask == 1]).mean() > 3 * np.abs(grad[mask == 0]).mean()


def test_mask_bce_balanced_is_mask_bce_when_half_is_shadow():
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=2.0, size=(2, 4, 4, 1)).astype(np.float32)
    mask = np.zeros((2, 4, 4), np.float32)
    mask[:, :2] = 1.0
    assert float(losses.mask_bce_balanced(logits, mask)) == pytest.approx(
        float(losses.mask_bce(logits, mask)), rel=1e-5)


def test_removal_loss_weighted_sum_and_skipped_terms():
    pred, target = _pair()
    mask = (target[..., :1] > 0.5).astype(np.float32)
    logits = np.random.default_rng(2).normal(size=mask.shape).astype(np.float32)
    outputs = {"shadow_free": pred, "mask_logits": logits}
    batch = {"shadow_free": target, "mask": mask[..., 0]}
    weights = {"l1": 1.0, "charbonnier": 0.0, "ssim": 0.5, "lab_l1": 2.0, "mask_bce": 0.25,
               "mask_bce_balanced": 0.5}
    total, terms = jax.jit(lambda o, b: losses.removal_loss(o, b, weights))(outputs, batch)
    assert set(terms) == {"l1", "ssim", "lab_l1", "mask_bce", "mask_bce_balanced"}
    expected = {"l1": losses.l1(pred, target), "ssim": losses.ssim_loss(pred, target),
                "lab_l1": losses.lab_l1(pred, target), "mask_bce": losses.mask_bce(logits, mask),
                "mask_bce_balanced": losses.mask_bce_balanced(logits, mask)}
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(float(value), rel=1e-5)
    assert float(total) == pytest.approx(sum(weights[k] * float(v) for k, v in expected.items()),
                                         rel=1e-5)


def test_removal_loss_zero_weights_and_errors():
    pred, target = _pair()
    outputs = {"shadow_free": pred}  # what `unet` returns: no mask logits
    total, terms = losses.removal_loss(outputs, {"shadow_free": target}, {"l1": 2.0})
    assert set(terms) == {"l1"}
    assert float(total) == pytest.approx(2.0 * float(losses.l1(pred, target)))
    # A zero-weighted term is not computed: mask_bce would fail here (no logits, no mask).
    total, terms = losses.removal_loss(outputs, {"shadow_free": target},
                                       {"l1": 0.0, "mask_bce": 0})
    assert terms == {} and float(total) == 0.0
    with pytest.raises(ValueError, match="unknown loss terms"):
        losses.removal_loss(outputs, {"shadow_free": target}, {"L1": 1.0})
    with pytest.raises(ValueError, match="mask_bce"):
        losses.removal_loss(outputs, {"shadow_free": target}, {"mask_bce": 1.0})


def test_terms_are_the_config_keys():
    assert losses.TERMS == ("l1", "charbonnier", "psnr", "ssim", "lab_l1", "mask_bce",
                            "mask_bce_balanced")


def test_psnr_loss_is_minus_the_mean_psnr_of_the_images():
    rng = np.random.RandomState(0)
    target = rng.rand(3, 8, 8, 3).astype(np.float32)
    pred = np.clip(target + rng.normal(0, [[[[0.01]]], [[[0.1]]], [[[0.3]]]], target.shape),
                   0, 1).astype(np.float32)
    mse = ((pred.astype(np.float64) - target) ** 2).mean(axis=(1, 2, 3))
    expected = np.mean(10 * np.log10(mse + 1e-8))
    assert abs(float(losses.psnr_loss(pred, target)) - expected) < 1e-4
    total, values = losses.removal_loss({"shadow_free": pred}, {"shadow_free": target},
                                        {"psnr": 2.0})
    assert set(values) == {"psnr"} and abs(float(total) - 2 * expected) < 2e-4
