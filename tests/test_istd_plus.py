"""ISTD+ colour correction: exact on synthetic data, and the real ISTD triplet's error collapses."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from jaxshadow.data.examples import load_example
from jaxshadow.data.images import read_image
from jaxshadow.data.istd_plus import istd_plus_correct
from jaxshadow.data.layouts import list_istd

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
TRIPLET = REAL / "istd"


def real_triplet():
    names = ("114-5_shadow.png", "114-5_shadow_free_original.png", "114-5_shadow_mask.png")
    missing = [n for n in names if not (TRIPLET / n).is_file()]
    if missing:
        pytest.fail(f"real ISTD triplet missing: {', '.join(str(TRIPLET / n) for n in missing)} "
                    f"(see {REAL / 'README.md'})")
    return (read_image(TRIPLET / names[0]), read_image(TRIPLET / names[1]),
            read_image(TRIPLET / names[2], kind="mask"))


def lab_error(a, b, region):
    """Mean over `region` of |dL| + |da| + |db| (scikit-image, D65)."""
    return float(np.abs(rgb2lab(a) - rgb2lab(b)).sum(axis=-1)[region].mean())


def test_real_istd_triplet_non_shadow_error_drops():
    shadow, free, mask = real_triplet()
    lit = mask < 128
    before = lab_error(shadow, free, lit)
    corrected = istd_plus_correct(shadow, free, mask)
    after = lab_error(shadow, corrected, lit)
    print(f"ISTD 114-5 non-shadow LAB error: original ground truth {before:.2f}, ISTD+ {after:.2f}")
    assert corrected.dtype == np.uint8 and corrected.shape == free.shape
    assert before > 12
    assert after < 6


def test_linear_relation_is_recovered_exactly():
    rng = np.random.default_rng(0)
    free = rng.uniform(0.1, 0.8, (2, 12, 10, 3))  # two images, corrected separately
    mask = np.zeros((2, 12, 10, 1), np.float32)
    mask[:, 4:8, 3:7] = 1.0
    a = np.array([[0.05, -0.02, 0.1], [0.0, 0.03, -0.05]])[:, None, None, :]
    b = np.array([[0.9, 1.1, 0.8], [1.2, 0.95, 1.0]])[:, None, None, :]
    shadow = a + b * free
    shadow = np.where(mask > 0.5, shadow * 0.3, shadow)  # the shadow region must not count
    out = istd_plus_correct(shadow.astype(np.float32), free.astype(np.float32), mask)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, a + b * free, atol=1e-5)


def test_uint8_is_rounded_and_clipped():
    free = np.tile(np.arange(0, 250, 10, dtype=np.uint8)[None, :, None], (4, 1, 3))
    mask = np.zeros(free.shape[:2], np.uint8)
    shadow = np.clip(free.astype(np.float64) * 1.5 - 20, 0, 255)
    shadow[free >= 150] = 255  # saturated in the input: outside the fit's reach
    out = istd_plus_correct(shadow.astype(np.uint8), free, mask)
    assert out.dtype == np.uint8
    assert out.min() == 0 and out.max() == 255  # clipped, not wrapped


def test_degenerate_inputs():
    free = np.full((4, 4, 3), 100, np.uint8)
    shadow = np.full((4, 4, 3), 90, np.uint8)
    # A constant channel gets only the offset.
    np.testing.assert_array_equal(istd_plus_correct(shadow, free, np.zeros((4, 4), np.uint8)), shadow)
    # All shadow: nothing to fit, unchanged.
    np.testing.assert_array_equal(istd_plus_correct(shadow, free, np.full((4, 4), 255, np.uint8)), free)
    with pytest.raises(ValueError):
        istd_plus_correct(shadow, free, np.zeros((3, 4), np.uint8))


def test_load_example_applies_istd_plus(tmp_path):
    shadow, free, mask = real_triplet()
    for letter, array in (("A", shadow), ("B", mask), ("C", free)):
        (tmp_path / "test" / f"test_{letter}").mkdir(parents=True)
        Image.fromarray(array).save(tmp_path / "test" / f"test_{letter}" / "114-5.png")
    (example,), problems = list_istd(tmp_path, "test")
    assert problems == []
    plain = load_example(example, source_name="istd")
    plus = load_example(example, source_name="istd_plus")
    np.testing.assert_array_equal(plain["shadow_free"], free)
    np.testing.assert_array_equal(plus["shadow_free"], istd_plus_correct(shadow, free, mask))
    np.testing.assert_array_equal(plus["mask"], mask)
    assert set(np.unique(plus["mask"])) <= {0, 255}
