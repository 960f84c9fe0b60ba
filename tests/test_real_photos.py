"""benchmarks/real_photos.py measures what it says: LAB error against skimage's Lab, the
pooled BER from its definition, the ISTD+ ground truth, a mask-conditioned remover."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage.color import rgb2lab

from benchmarks import real_photos
from jaxshadow.data.images import read_image
from jaxshadow.data.istd_plus import istd_plus_correct

REAL = real_photos.REAL_DATA


@jax.jit
def identity(x):
    return {"shadow_free": x, "mask": jnp.zeros_like(x[..., :1]), "gain": jnp.ones_like(x),
            "offset": jnp.zeros_like(x)}


def test_identity_scores_equal_the_input_and_skimage(small_real):
    scores = real_photos.istd_scores(_NotJoint(), identity, small_real, size=128)
    assert scores["model"] == pytest.approx(scores["input"], abs=1e-6)
    assert scores["true_mask"] is None
    folder = small_real / "istd"
    shadow = read_image(folder / "114-5_shadow.png")
    mask = read_image(folder / "114-5_shadow_mask.png", kind="mask") >= 128
    target = istd_plus_correct(shadow, read_image(folder / "114-5_shadow_free_original.png"),
                               mask.astype(np.uint8) * 255)
    err = np.abs(rgb2lab(shadow / 255.0) - rgb2lab(target / 255.0)).sum(-1)
    assert scores["input"]["lab_shadow"] == pytest.approx(err[mask].mean(), rel=1e-4)
    assert scores["input"]["lab_non_shadow"] == pytest.approx(err[~mask].mean(), rel=1e-4)
    mse = np.mean((shadow / 255.0 - target / 255.0) ** 2)
    assert scores["input"]["psnr"] == pytest.approx(10 * np.log10(1 / mse), rel=1e-4)


def test_ber_is_pooled_over_the_photos(small_real):
    scores = real_photos.detection_scores(identity, small_real, size=128)
    assert scores["photos"] == 4
    assert scores["ber"] == pytest.approx(50.0)  # nothing predicted: TP = 0, TN = Nn
    everything = jax.jit(lambda x: {**identity(x), "mask": jnp.ones_like(x[..., :1])})
    assert real_photos.detection_scores(everything, small_real, size=128)["ber"] == pytest.approx(50.0)


def test_true_mask_conditions_the_joint_remover(small_real):
    from jaxshadow.models import get

    model = get("joint", detector_features=(8, 16), remover_features=(8, 16))
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    # a remover that brightens where its mask is: zero-initialised heads would do nothing
    variables = jax.tree_util.tree_map_with_path(
        lambda p, v: v + 0.05 if "remover" in jax.tree_util.keystr(p) and "head" in
        jax.tree_util.keystr(p) and "bias" in jax.tree_util.keystr(p) else v, variables)
    trained = _Joint(model, variables)
    mask = read_image(small_real / "istd" / "114-5_shadow_mask.png", kind="mask")
    fn = real_photos.with_true_mask(trained, mask, 128)
    x = np.full((1, 128, 128, 3), 0.3, np.float32)
    out = fn(x)
    m = np.asarray(out["mask"])[0, ..., 0]
    assert m.shape == (128, 128) and m.max() == pytest.approx(1.0, abs=1e-3) and m.min() == 0.0
    free = np.asarray(out["shadow_free"])[0]
    assert np.abs(free[m == 0] - 0.3).max() < 1e-6  # lit pixels pass through
    assert free[m > 0.99].mean() > 0.31             # the true shadow is corrected


class _NotJoint:
    class config:
        class model:
            name = "unet"


class _Joint:
    def __init__(self, model, variables):
        self.model, self.variables = model, variables

    class config:
        class model:
            name = "joint"
