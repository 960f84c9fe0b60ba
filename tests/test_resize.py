"""jaxshadow.resize.imresize_matlab: hand-computed MATLAB cases, invariants, and PIL's bicubic."""

from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from jaxshadow.resize import imresize_matlab, imresize_matlab_batch, resize_weights

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def smooth_image(h, w):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return 0.5 + 0.3 * np.sin(3 * xx + 1) * np.cos(2 * yy) + 0.1 * xx * yy


def test_identity_when_size_unchanged():
    img = np.random.default_rng(0).random((13, 17, 3))
    np.testing.assert_array_equal(imresize_matlab(img, (13, 17)), img)
    # Also through the weights: scale 1 is the identity matrix.
    np.testing.assert_allclose(resize_weights(9, 9), np.eye(9), atol=1e-15)


@pytest.mark.parametrize("out_hw", [(7, 5), (40, 33), (20, 9)])
def test_constant_stays_constant(out_hw):
    out = imresize_matlab(np.full((20, 15, 2), 0.37), out_hw)
    assert out.shape == (*out_hw, 2) and out.dtype == np.float64
    np.testing.assert_allclose(out, 0.37, atol=1e-14)


def test_downscale_by_2_hand_computed():
    # 4 -> 2, s = 0.5: u(1) = 1.5, kernel 0.5 k(0.5 t) over taps j = -3..6, mirrored
    # ([1 2 3 4 4 3 2 1] cyclic: j=0->1, -1->2, -2->3, 5->4). Unnormalised k values per input pixel:
    # p1: k(.75)+k(.25) = .2265625+.8671875, p2: k(.25)+k(1.25) = .8671875-.0703125,
    # p3: k(.75)+k(1.75) = .2265625-.0234375, p4: k(1.25)+k(1.75) = -.0703125-.0234375; sum 2.
    # -> weights [.546875, .3984375, .1015625, -.046875]; output 2 by symmetry (reversed).
    signal = np.array([[1.0, 2.0, 4.0, 8.0]])
    np.testing.assert_allclose(imresize_matlab(signal, (1, 2)), [[1.375, 6.125]], atol=1e-14)
    np.testing.assert_allclose(imresize_matlab(signal.T, (2, 1)), [[1.375], [6.125]], atol=1e-14)


def test_upscale_by_2_hand_computed():
    # 2 -> 4, s = 2 (no widening): u = x/2 + 0.25 = .75, 1.25, 1.75, 2.25; mirror [1 2 2 1] cyclic
    # (j=-1 -> 2, j=0 -> 1, j=3 -> 2). k in units of 1/128: k(.25)=111, k(.75)=29, k(1.25)=-9,
    # k(1.75)=-3, each row summing to 128.
    # x=1: j=-1 (->2) -3, j=0 (->1) 29, j=1 111, j=2 -9 -> out = -12/128 for input [0, 1]
    # x=2: j=0 (->1) -9, j=1 111, j=2 29, j=3 (->2) -3 -> out = 26/128; x=3, 4 by symmetry.
    out = imresize_matlab(np.array([[0.0, 1.0]]), (1, 4))
    np.testing.assert_allclose(out, [[-12 / 128, 26 / 128, 102 / 128, 140 / 128]], atol=1e-14)


def test_weights_rows_sum_to_one_and_channels_independent():
    for n_in, n_out in [(480, 256), (640, 256), (10, 23), (5, 2)]:
        np.testing.assert_allclose(resize_weights(n_in, n_out).sum(1), 1.0, atol=1e-12)
    img = np.random.default_rng(1).random((30, 22, 3))
    out = imresize_matlab(img, (12, 9))
    for c in range(3):
        np.testing.assert_allclose(out[..., c], imresize_matlab(img[..., c], (12, 9)), atol=1e-13)
    # Separable: rows then columns with the same weight matrices.
    expected = resize_weights(30, 12) @ img[..., 0] @ resize_weights(22, 9).T
    np.testing.assert_allclose(out[..., 0], expected, atol=1e-13)


def test_matches_pil_bicubic_on_smooth_image_downscale_2_5():
    # PIL's BICUBIC is also a = -0.5 with support widened by 1/scale and the same pixel-centre
    # mapping; it only differs at the borders (it truncates the kernel instead of mirroring).
    img = smooth_image(100, 120)
    out = imresize_matlab(img, (40, 48))
    pil = np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((48, 40), Image.BICUBIC))
    np.testing.assert_allclose(out, pil, atol=5e-3)
    np.testing.assert_allclose(out[3:-3, 3:-3], pil[3:-3, 3:-3], atol=1e-5)


def test_uint8_rounds_and_clips_like_matlab():
    img = np.zeros((8, 8), np.uint8)
    img[:, 4:] = 255  # a hard edge: bicubic overshoots below 0 and above 255
    out = imresize_matlab(img, (8, 16))
    ref = imresize_matlab(img.astype(np.float64), (8, 16))
    assert out.dtype == np.uint8 and ref.min() < 0 and ref.max() > 255
    np.testing.assert_array_equal(out, np.floor(np.clip(ref, 0, 255) + 0.5).astype(np.uint8))


def test_real_istd_image_to_256():
    path = REAL / "istd" / "114-5_shadow.png"
    if not path.is_file():
        pytest.fail(f"real ISTD test image missing: {path} (expected shared/ next to the repo)")
    img = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0
    out = imresize_matlab(img, (256, 256))
    assert out.shape == (256, 256, 3)
    np.testing.assert_allclose(out.mean((0, 1)), img.mean((0, 1)), atol=2e-3)  # mean preserved
    pil = np.stack(
        [np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F").resize((256, 256), Image.BICUBIC))
         for c in range(3)], -1)
    np.testing.assert_allclose(out[4:-4, 4:-4], pil[4:-4, 4:-4], atol=1e-4)


@pytest.mark.parametrize("shape,out_hw", [((2, 37, 50, 3), (256, 256)), ((1, 480, 640, 1), (256, 256)),
                                          ((1, 16, 16, 3), (16, 16))])
def test_batched_jax_resize_equals_the_numpy_reference(shape, out_hw):
    images = np.random.default_rng(0).random(shape)
    got = np.asarray(jax.jit(imresize_matlab_batch, static_argnums=1)(images, out_hw))
    want = np.stack([imresize_matlab(im, out_hw) for im in images])
    assert got.shape == (shape[0], *out_hw, shape[3])
    np.testing.assert_allclose(got, want, atol=2e-5)
