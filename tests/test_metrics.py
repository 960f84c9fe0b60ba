"""jaxshadow.metrics against scikit-image / float64 NumPy references, on random and real images."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor
from skimage import metrics as skmetrics

from jaxshadow import metrics

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def real_istd_triplet():
    """(shadow, shadow-free, mask) float64 in [0, 1], HxWx3, HxWx3, HxW; fails if missing."""
    d = REAL / "istd"
    names = ["114-5_shadow.png", "114-5_shadow_free_original.png", "114-5_shadow_mask.png"]
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        pytest.fail(f"real ISTD test images missing in {d}: {missing} (expected shared/ next to the repo)")
    s, f = (np.asarray(Image.open(d / n).convert("RGB"), np.float64) / 255.0 for n in names[:2])
    m = np.asarray(Image.open(d / names[2]).convert("L"), np.float64) / 255.0
    return s, f, m


def f32(x):
    return jnp.asarray(x, jnp.float32)


def lab_error_reference(pred, target, mask):
    """Per-image (sums, counts) per region in float64 with skimage.rgb2lab (D65)."""
    err = np.abs(skcolor.rgb2lab(pred) - skcolor.rgb2lab(target)).sum(-1)
    shadow = mask > 0.5
    regions = {"shadow": shadow, "non_shadow": ~shadow, "all": np.ones_like(shadow)}
    return {r: ((err * m).sum((1, 2)), m.sum((1, 2))) for r, m in regions.items()}


def random_batch(seed=0, n=3, h=24, w=20):
    rng = np.random.default_rng(seed)
    target = rng.random((n, h, w, 3))
    pred = np.clip(target + 0.2 * rng.standard_normal(target.shape), 0, 1)
    mask = rng.random((n, h, w))
    return pred, target, mask


def test_lab_error_matches_skimage_pooled_and_per_image():
    pred, target, mask = random_batch()
    ref = lab_error_reference(pred, target, mask)
    per = metrics.lab_error(f32(pred), f32(target), f32(mask), per_image=True)
    pooled = metrics.lab_error(f32(pred), f32(target), f32(mask))  # jitted in the library
    for region, (sums, counts) in ref.items():
        assert per[region].shape == (3,)
        np.testing.assert_allclose(np.asarray(per[region]), sums / counts, rtol=1e-4)
        np.testing.assert_allclose(float(pooled[region]), sums.sum() / counts.sum(), rtol=1e-4)
    # Pixel pooling differs from the mean of per-image values when region sizes differ.
    target[0] = pred[0]  # image 0: no error at all
    mask[0] = mask[0] * 0.6  # ... and far fewer shadow pixels than the others
    per = metrics.lab_error(f32(pred), f32(target), f32(mask), per_image=True)["shadow"]
    pooled = float(metrics.lab_error(f32(pred), f32(target), f32(mask))["shadow"])
    sums, counts = lab_error_reference(pred, target, mask)["shadow"]
    np.testing.assert_allclose(pooled, sums.sum() / counts.sum(), rtol=1e-4)
    assert abs(pooled - float(np.mean(per))) > 0.5


def test_lab_error_sums_pool_exactly_across_batches():
    batches = [random_batch(seed=seed) for seed in (1, 2)]
    sums = [metrics.lab_error_sums(f32(p), f32(t), f32(m)) for p, t, m in batches]
    whole = lab_error_reference(*(np.concatenate(x) for x in zip(*batches)))
    for region in ("shadow", "non_shadow", "all"):
        total = sum(float(np.asarray(s[f"{region}_sum"], np.float64).sum()) for s in sums)
        count = sum(int(np.sum(s[f"{region}_count"])) for s in sums)
        assert count == int(whole[region][1].sum())
        np.testing.assert_allclose(total / count, whole[region][0].sum() / whole[region][1].sum(), rtol=1e-5)
    assert sums[0]["shadow_count"].dtype == jnp.int32 and sums[0]["all_count"].shape == (3,)
    np.testing.assert_array_equal(np.asarray(sums[0]["all_count"]), [24 * 20] * 3)


def test_lab_error_mask_shapes_and_empty_region():
    pred, target, mask = random_batch(seed=2)
    mask[1] = 0.0  # image 1 has no shadow pixel
    a = metrics.lab_error(f32(pred), f32(target), f32(mask), per_image=True)
    b = metrics.lab_error(f32(pred), f32(target), f32(mask[..., None]), per_image=True)
    for region in a:
        np.testing.assert_array_equal(np.asarray(a[region]), np.asarray(b[region]))
    assert np.isfinite(float(a["shadow"][0])) and np.isnan(float(a["shadow"][1]))
    pooled = metrics.lab_error(f32(pred), f32(target), f32(mask))
    assert np.isfinite(float(pooled["shadow"]))
    same = metrics.lab_error(f32(target), f32(target), f32(mask))
    assert float(same["all"]) == 0.0


def test_lab_error_d50_differs_but_agrees_on_grey():
    pred, target, mask = random_batch(seed=3)
    d65 = metrics.lab_error(f32(pred), f32(target), f32(mask), white="D65")["all"]
    d50 = metrics.lab_error(f32(pred), f32(target), f32(mask), white="D50")["all"]
    assert abs(float(d65) - float(d50)) > 0.05
    grey_p, grey_t = np.full(pred.shape, 0.3), np.full(pred.shape, 0.6)
    e65 = metrics.lab_error(f32(grey_p), f32(grey_t), f32(mask), white="D65")["all"]
    e50 = metrics.lab_error(f32(grey_p), f32(grey_t), f32(mask), white="D50")["all"]
    np.testing.assert_allclose(float(e65), float(e50), atol=2e-2)  # greys stay neutral in both


def test_real_istd_input_vs_ground_truth_lab_error():
    s, f, m = real_istd_triplet()
    ref = lab_error_reference(s[None], f[None], m[None])
    figures = {}
    for white in ("D65", "D50"):
        got = metrics.lab_error(f32(s[None]), f32(f[None]), f32(m[None]), white=white)
        figures[white] = {k: float(v) for k, v in got.items()}
        print(f"ISTD 114-5 input vs GT, LAB error ({white}):", figures[white])
    for region, (sums, counts) in ref.items():
        np.testing.assert_allclose(figures["D65"][region], sums[0] / counts[0], rtol=1e-4)
    # ISTD's shadow-free images differ in colour outside the shadow: an error of about 19 there.
    assert 10.0 <= figures["D65"]["non_shadow"] <= 30.0
    assert 10.0 <= figures["D50"]["non_shadow"] <= 30.0
    assert 0 < (m > 0.5).sum() < m.size


def test_psnr_matches_skimage():
    pred, target, _ = random_batch(seed=4)
    got = np.asarray(metrics.psnr(f32(pred), f32(target)))
    ref = [skmetrics.peak_signal_noise_ratio(t, p, data_range=1.0) for p, t in zip(pred, target)]
    assert got.shape == (3,)
    np.testing.assert_allclose(got, ref, atol=1e-3)
    s, f, _ = real_istd_triplet()
    np.testing.assert_allclose(float(metrics.psnr(f32(s[None]), f32(f[None]))[0]),
                               skmetrics.peak_signal_noise_ratio(f, s, data_range=1.0), atol=1e-3)
    np.testing.assert_allclose(float(metrics.psnr(f32(pred * 2), f32(target * 2), data_range=2.0)[0]), ref[0], atol=1e-3)


def skimage_ssim(a, b):
    return skmetrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1
    )


@pytest.mark.parametrize("hw", [(11, 11), (31, 47)])
def test_ssim_matches_skimage_random(hw):
    rng = np.random.default_rng(hw[0])
    a = rng.random((2, *hw, 3))
    b = np.clip(a + 0.15 * rng.standard_normal(a.shape), 0, 1)
    b[1] = a[1] * 0.7 + 0.1  # a structured second pair
    got = np.asarray(metrics.ssim(f32(a), f32(b)))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, [skimage_ssim(x, y) for x, y in zip(a, b)], atol=1e-4)


def test_ssim_matches_skimage_real_and_identity():
    s, f, _ = real_istd_triplet()
    got = float(metrics.ssim(f32(s[None]), f32(f[None]))[0])
    ref = skimage_ssim(s, f)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert got < 0.99
    np.testing.assert_allclose(np.asarray(metrics.ssim(f32(f[None]), f32(f[None]))), [1.0], atol=1e-5)


def test_ber_by_hand():
    gt = np.zeros((2, 4, 4))
    gt[:, :2] = 1.0  # 8 positive, 8 negative pixels per image
    pred = gt.copy()
    pred[0, 0, :2] = 0.2  # image 0: 2 false negatives -> TP 6/8, TN 8/8 -> BER 12.5
    pred[1, 3, :] = 0.9  # image 1: 4 false positives -> TP 8/8, TN 4/8 -> BER 25
    c = metrics.ber_counts(f32(pred), f32(gt[..., None]))
    np.testing.assert_array_equal(np.asarray(c["tp"]), [6, 8])
    np.testing.assert_array_equal(np.asarray(c["tn"]), [8, 4])
    np.testing.assert_array_equal(np.asarray(c["n_pos"]), [8, 8])
    np.testing.assert_array_equal(np.asarray(c["n_neg"]), [8, 8])
    np.testing.assert_allclose(np.asarray(metrics.ber(f32(pred), f32(gt), per_image=True)), [12.5, 25.0], atol=1e-5)
    # pooled: TP 14/16, TN 12/16 -> 100 * (1 - (0.875 + 0.75) / 2) = 18.75
    np.testing.assert_allclose(float(metrics.ber(f32(pred), f32(gt))), 18.75, atol=1e-5)
    assert float(metrics.ber(f32(gt), f32(gt))) == 0.0
    assert float(metrics.ber(f32(1 - gt), f32(gt))) == 100.0


def test_ber_matches_numpy_on_real_mask():
    _, _, m = real_istd_triplet()
    pred = np.roll(m, 7, axis=1)
    p, g = pred > 0.5, m > 0.5
    ref = 100 * (1 - 0.5 * ((p & g).sum() / g.sum() + (~p & ~g).sum() / (~g).sum()))
    np.testing.assert_allclose(float(metrics.ber(f32(pred[None]), f32(m[None]))), ref, atol=1e-4)
    assert ref > 0
