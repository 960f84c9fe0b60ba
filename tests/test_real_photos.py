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
    from jaxshadow.inference import mask_guided_apply_fn
    from jaxshadow.models import get
    from jaxshadow.predict import remove_shadows

    model = get("joint", detector_features=(8, 16), remover_features=(8, 16))
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    # a remover that brightens where its mask is: zero-initialised heads would do nothing
    variables = jax.tree_util.tree_map_with_path(
        lambda p, v: v + 0.05 if "remover" in jax.tree_util.keystr(p) and "head" in
        jax.tree_util.keystr(p) and "bias" in jax.tree_util.keystr(p) else v, variables)
    mask = read_image(small_real / "istd" / "114-5_shadow_mask.png", kind="mask")
    image = np.full((*mask.shape, 3), 77, np.uint8)  # 0.302
    free, given = remove_shadows(mask_guided_apply_fn(_Joint(model, variables)), image,
                                 size=128, mask=mask)
    # the mask comes back as the model saw it: at working size, upsampled (soft at its edge)
    assert np.mean((given >= 128) == (mask >= 128)) > 0.98
    lit = given == 0
    assert lit.mean() > 0.3
    np.testing.assert_array_equal(free[lit], image[lit])  # lit pixels pass through
    assert free[mask == 255].mean() > 80                # the true shadow is corrected


class _NotJoint:
    class config:
        class model:
            name = "unet"

        class data:
            mask_input = False


class _Joint:
    def __init__(self, model, variables):
        self.model, self.variables = model, variables

    class config:
        class model:
            name = "joint"

        class data:
            mask_input = False


def test_a_rough_mask_is_the_true_one_grown_by_a_square():
    mask = np.zeros((40, 50), np.uint8)
    mask[10, 20] = 255
    mask[30:33, 5:8] = 255
    out = real_photos.grown(mask, 3)
    want = np.zeros_like(mask)
    want[7:14, 17:24] = 255
    want[27:36, 2:11] = 255
    np.testing.assert_array_equal(out, want)


def test_false_alarms_on_the_shadow_free_photo_are_the_marked_percentage(small_real):
    assert real_photos.shadow_free_marked(identity, small_real, size=128) == 0.0
    everything = jax.jit(lambda x: {**identity(x), "mask": jnp.ones_like(x[..., :1])})
    assert real_photos.shadow_free_marked(everything, small_real, size=128) == 100.0
    top = jax.jit(lambda x: {**identity(x), "mask": jnp.zeros_like(x[..., :1]).at[:, :40].set(1)})
    # 128 × 96 at working size (480 / 640 of 128 rows = 96): rows 0-39 of 96 are marked
    marked = real_photos.shadow_free_marked(top, small_real, size=128)
    assert marked == pytest.approx(100 * 40 / 96, abs=1.0)


def test_mask_scores_inside_and_outside_the_true_shadow():
    truth = np.zeros((4, 5), np.uint8)
    truth[:2] = 255  # 10 shadow pixels, 10 lit
    predicted = np.zeros((4, 5), np.uint8)
    predicted[0] = 255          # 5 of the shadow marked fully
    predicted[1, :2] = 102      # 2 more at 0.4: counted in the mean, not as marked
    predicted[3, :] = 51        # the lit row at 0.2
    got = real_photos.mask_scores(predicted, truth)
    assert got["inside"] == pytest.approx((5 + 2 * 0.4) / 10)
    assert got["marked"] == pytest.approx(50.0)
    assert got["lit"] == pytest.approx(5 * 0.2 / 10)
    assert real_photos.mask_scores(None, truth) is None


def test_identity_marks_none_of_the_istd_shadow(small_real):
    scores = real_photos.istd_scores(_NotJoint(), identity, small_real, size=128)
    assert scores["mask"] == {"inside": 0.0, "lit": 0.0, "marked": 0.0}
