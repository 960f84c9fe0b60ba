"""Mask-guided removal (`predict --masks DIR`): the given mask travels with the image through
working resolution and tiles, the shipped remover corrects exactly where it says, and masks
that are missing or of another size are reported by name."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxshadow import cli, predict
from jaxshadow.errors import UserError
from jaxshadow.inference import mask_guided_apply_fn


@jax.jit
def doubling(x):
    """A mask-guided fake: twice the colour where the given mask (4th channel) is."""
    rgb, mask = x[..., :3], x[..., 3:]
    gain = 1.0 + mask
    return {"shadow_free": rgb * gain, "mask": mask, "gain": gain,
            "offset": jnp.zeros_like(rgb)}


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 120, (h, w, 3), dtype=np.uint8)


def _mask(h, w):
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:h // 2, w // 3:] = 255
    return mask


@pytest.mark.parametrize("kwargs", [dict(), dict(tile=64, overlap=16), dict(size=64)],
                         ids=["whole", "tiled", "working-size"])
def test_the_mask_reaches_the_model_aligned_with_the_image(kwargs):
    img, mask = _image(100, 150), _mask(100, 150)
    free, given = predict.remove_shadows(doubling, img, mask=mask, **kwargs)
    assert free.shape == img.shape and given.shape == mask.shape
    lit, shadow = given == 0, given == 255
    assert lit.mean() > 0.6 and shadow.mean() > 0.1
    np.testing.assert_array_equal(free[lit], img[lit])
    np.testing.assert_array_equal(free[shadow], 2 * img[shadow].astype(np.uint16))
    assert np.mean((given >= 128) == (mask >= 128)) > 0.97


def test_a_mask_of_another_size_is_refused():
    with pytest.raises(ValueError, match="the mask is 150×99 pixels but the image is 150×100"):
        predict.remove_shadows(doubling, _image(100, 150), mask=_mask(99, 150))


def _save(path, array):
    Image.fromarray(array).save(path)
    return path


def test_predict_files_finds_each_mask_by_name_and_reports_the_rest(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir(), masks.mkdir()
    a, b, c = _image(40, 60, 1), _image(40, 60, 2), _image(40, 60, 3)
    _save(images / "a.jpg", a)
    _save(images / "b.png", b)
    _save(images / "c.png", c)
    _save(masks / "a.png", _mask(40, 60))     # another extension than its image: found
    _save(masks / "c.png", _mask(30, 60))     # another size: reported
    summary = predict.predict_files(doubling, [images], out, progress=False, mask_dir=masks)
    assert sorted(os.listdir(out)) == ["a.png", "a_mask.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "a_mask.png")), _mask(40, 60))
    failed = dict(summary["failed"])
    assert set(failed) == {str(images / "b.png"), str(images / "c.png")}
    assert f"no mask for it in {masks}" in failed[str(images / "b.png")]
    assert "is 60×30 pixels, the image 60×40" in failed[str(images / "c.png")]
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "skipped" in line]) == 2


def test_a_mask_named_like_predicts_own_is_preferred_and_an_image_is_never_its_own(tmp_path):
    out = tmp_path / "out"
    img, mask = _image(40, 60, 5), _mask(40, 60)
    _save(tmp_path / "p.png", img)
    _save(tmp_path / "p_mask.png", mask)        # beside the photo, as ISTD has them
    _save(tmp_path / "q.png", img)             # no mask: q.png must not be its own
    summary = predict.predict_files(doubling, [tmp_path / "p.png", tmp_path / "q.png"], out,
                                    progress=False, mask_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(Image.open(out / "p_mask.png")), mask)
    assert [f for f, _ in summary["failed"]] == [str(tmp_path / "q.png")]
    # predict's own output folder (p.png the result, p_mask.png the mask) fed back
    again = predict.predict_files(doubling, [tmp_path / "p.png"], tmp_path / "again",
                                  progress=False, mask_dir=out)
    assert not again["failed"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "again" / "p_mask.png")), mask)


def test_a_missing_mask_folder_is_one_line_before_any_work(tmp_path, capsys):
    photo = _save(tmp_path / "a.png", _image(40, 60))
    code = cli.main(["predict", "--masks", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
                     str(photo)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope: the mask folder does not exist" in err[0]


def test_the_shipped_remover_corrects_exactly_where_the_mask_says(tmp_path):
    lit = np.random.default_rng(4).integers(100, 180, (48, 64, 3)).astype(np.uint8)
    img = lit.copy()
    img[:, 32:] = lit[:, 32:] // 2              # the right half in a shadow that halves it
    photo, masks = _save(tmp_path / "p.png", img), tmp_path / "masks"
    masks.mkdir()
    _save(masks / "p.png", np.zeros((48, 64), np.uint8))
    assert cli.main(["predict", "--masks", str(masks), "--out", str(tmp_path / "none"),
                     str(photo)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "none" / "p.png")), img)
    mask = np.zeros((48, 64), np.uint8)
    mask[:, 32:] = 255
    _save(masks / "p.png", mask)
    assert cli.main(["predict", "--masks", str(masks), "--out", str(tmp_path / "half"),
                     str(photo)]) == 0
    free = np.asarray(Image.open(tmp_path / "half" / "p.png")).astype(int)
    np.testing.assert_array_equal(free[:, :32], img[:, :32])
    error = lambda x: np.abs(x[:, 32:].astype(int) - lit[:, 32:]).mean()
    assert error(free) < error(img) / 3        # most of the shadow taken out


class _Unet:
    class config:
        class model:
            name = "unet"

        class data:
            mask_input = False


def test_a_model_that_takes_no_mask_says_so():
    with pytest.raises(UserError, match="w.msgpack: a 'unet' model takes no shadow mask"):
        mask_guided_apply_fn(_Unet(), "w.msgpack")


class _MaskInputUnet:
    """A `unet` trained with data.mask_input: RGB + a binary mask as its 4th channel."""

    def __init__(self):
        from jaxshadow import models

        self.model = models.get("unet", features=(8, 16), out_channels=3, residual=True)
        self.variables = self.model.init(jax.random.key(0), jnp.zeros((1, 16, 16, 4)))

    class config:
        class model:
            name = "unet"

        class data:
            mask_input = True


def test_a_mask_input_model_reads_the_given_mask_thresholded_as_its_4th_channel():
    trained = _MaskInputUnet()
    guided = mask_guided_apply_fn(trained)
    rgb = jax.random.uniform(jax.random.key(1), (1, 16, 16, 3))
    for soft, binary in ((0.6, 1.0), (0.4, 0.0)):
        out = guided(jnp.concatenate([rgb, jnp.full((1, 16, 16, 1), soft)], -1))
        want = trained.model.apply(trained.variables,
                                   jnp.concatenate([rgb, jnp.full((1, 16, 16, 1), binary)], -1))
        np.testing.assert_allclose(out["shadow_free"], want["shadow_free"], atol=1e-6)
        np.testing.assert_allclose(out["offset"], want["shadow_free"] - rgb, atol=1e-6)
        assert float(out["mask"].mean()) == pytest.approx(soft, abs=1e-5)
