"""jaxshadow.predict: any image size, seamless tiles, robust file handling.

The fake models are pure JAX functions, jitted, and not the identity: a pixelwise one (tiled
output must equal the whole-image output up to rounding) and a 3x3 box blur (tiled output must
agree within 1/255 away from the image border, which only holds if blending drops tile edges).
"""

import io
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxshadow import predict
from jaxshadow.data.images import read_image
from jaxshadow.errors import DataError, UserError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@jax.jit
def pixelwise(x):
    free = jnp.clip(x * 1.2 + 0.05, 0.0, 1.0)
    mask = (jnp.mean(x, axis=-1, keepdims=True) < 0.3).astype(jnp.float32)
    return {"shadow_free": free, "mask": mask}


@jax.jit
def box_blur(x):
    p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    total = sum(p[:, i:i + h, j:j + w] for i in range(3) for j in range(3))
    return {"shadow_free": total / 9.0, "mask": None}


class Recording:
    """Wraps an apply_fn and records the input shapes it was called with."""

    def __init__(self, fn):
        self.fn, self.shapes = fn, []

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return self.fn(x)


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _smooth_image(h, w, seed=0):
    """Random but locally correlated, like a photo (so the blur's edge errors matter less)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 1, (h // 8 + 2, w // 8 + 2, 3))
    big = np.kron(small, np.ones((8, 8, 1)))[:h, :w]
    return np.clip(np.rint(big * 255 + rng.normal(0, 20, big.shape)), 0, 255).astype(np.uint8)


def _expected_pixelwise(img):
    x = img.astype(np.float32) / 255.0
    free = np.rint(np.clip(x * 1.2 + 0.05, 0, 1) * 255).astype(np.uint8)
    mask = np.where(x.mean(-1) < 0.3, 255, 0).astype(np.uint8)
    return free, mask


def _real_dir(name):
    path = REAL / name
    if not path.is_dir():
        pytest.fail(f"real test data missing: {path} (expected beside the project, "
                    f"see DESIGN.md 'Real data for tests')")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    if not files:
        pytest.fail(f"no images in {path}")
    return path, files


# --------------------------------------------------------------------------- remove_shadows


@pytest.mark.parametrize("h,w", [(1, 1), (1, 7), (7, 1), (33, 17), (2, 2), (16, 16), (17, 3)])
def test_any_small_size(h, w):
    img = _image(h, w)
    calls = Recording(pixelwise)
    free, mask = predict.remove_shadows(calls, img)
    assert free.shape == (h, w, 3) and free.dtype == np.uint8
    assert mask.shape == (h, w) and mask.dtype == np.uint8
    want_free, want_mask = _expected_pixelwise(img)
    assert np.abs(free.astype(int) - want_free).max() <= 1
    np.testing.assert_array_equal(mask, want_mask)
    for shape in calls.shapes:
        assert shape[1] % 16 == 0 and shape[2] % 16 == 0


@pytest.mark.parametrize("h,w", [(1, 300), (300, 1), (1, 1)])
def test_one_pixel_axes_tiled(h, w):
    img = _image(h, w)
    free, mask = predict.remove_shadows(pixelwise, img, tile=64, overlap=8)
    want_free, want_mask = _expected_pixelwise(img)
    assert free.shape == (h, w, 3)
    assert np.abs(free.astype(int) - want_free).max() <= 1
    np.testing.assert_array_equal(mask, want_mask)


def test_tiled_equals_whole_for_pixelwise_model():
    img = _image(150, 203, seed=1)
    calls = Recording(pixelwise)
    tiled_free, tiled_mask = predict.remove_shadows(calls, img, tile=64, overlap=16)
    whole_free, whole_mask = predict.remove_shadows(pixelwise, img, tile=512)
    assert tiled_free.shape == (150, 203, 3) and tiled_mask.shape == (150, 203)
    # One compiled shape serves every tile: fixed batch, fixed tile.
    assert set(calls.shapes) == {(predict.TILE_BATCH, 64, 64, 3)}
    assert len(calls.shapes) > 1
    diff = np.abs(tiled_free.astype(int) - whole_free.astype(int))
    assert diff.max() <= 1  # blending weights summing to 1 up to float rounding
    assert (diff == 0).mean() > 0.999
    np.testing.assert_array_equal(tiled_mask, whole_mask)
    want_free, _ = _expected_pixelwise(img)
    assert np.abs(whole_free.astype(int) - want_free).max() <= 1


@pytest.mark.parametrize("overlap", [2, 8, 16])
def test_tiled_blur_has_no_seams(overlap):
    img = _smooth_image(150, 203, seed=2)
    tiled, tiled_mask = predict.remove_shadows(box_blur, img, tile=64, overlap=overlap)
    whole, whole_mask = predict.remove_shadows(box_blur, img, tile=512)
    assert tiled_mask is None and whole_mask is None
    assert tiled.shape == whole.shape == (150, 203, 3)
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(tiled[inner].astype(int) - whole[inner].astype(int)).max() <= 1


def test_tiles_without_overlap_show_seams():
    """The check above is sharp: tiles that are not blended disagree with the whole image."""
    img = _image(150, 203, seed=3)
    tiled, _ = predict.remove_shadows(box_blur, img, tile=64, overlap=0)
    whole, _ = predict.remove_shadows(box_blur, img, tile=512)
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(tiled[inner].astype(int) - whole[inner].astype(int)).max() > 1


def test_blend_weights_sum_to_one():
    for overlap in (0, 1, 2, 3, 8, 64):
        tile, starts, weights = predict._axis_plan(1000, 256, overlap, 16)
        total = np.zeros(starts[-1] + tile)
        for s, w in zip(starts, weights):
            total[s:s + tile] += w
        np.testing.assert_allclose(total, 1.0, atol=1e-12)
        assert starts[-1] + tile >= 1000


def test_bad_arguments():
    with pytest.raises(ValueError):
        predict.remove_shadows(pixelwise, _image(8, 8), tile=64, overlap=40)
    with pytest.raises(ValueError):
        predict.remove_shadows(pixelwise, np.zeros((4, 4, 4), np.uint8))


def test_side_by_side():
    a, b = _image(5, 4), _image(5, 6)
    m = np.full((5, 3), 200, np.uint8)
    out = predict.side_by_side([a, b, m])
    assert out.shape == (5, 13, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :4], a)
    np.testing.assert_array_equal(out[:, 4:10], b)
    assert (out[:, 10:] == 200).all()


# --------------------------------------------------------------------------- files


def _save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


def _size(path):
    with Image.open(path) as im:
        return im.size  # (width, height)


def test_real_istd_images_keep_their_size(tmp_path):
    inputs = []
    for name in ("istd_inputs", "istd"):
        _, files = _real_dir(name)
        inputs += files
    summary = predict.predict_files(pixelwise, inputs, tmp_path, progress=False)
    assert summary["failed"] == []
    # 114-5_shadow.png's mask output takes the name 114-5_shadow_mask.png, so the input of
    # that name is written as 114-5_shadow_mask_png.png
    names = predict.output_names(inputs)
    assert "114-5_shadow_mask_png" in names
    assert len(os.listdir(tmp_path)) == 2 * len(inputs)
    for path, name in zip(inputs, names):
        want = _size(path)
        assert _size(tmp_path / f"{name}.png") == want, path
        assert _size(tmp_path / f"{name}_mask.png") == want, path
    # 640x480 is tiled at the default tile of 512, and the tiles agree with the model.
    img = read_image(inputs[0])
    free, _ = predict.remove_shadows(pixelwise, img)
    assert np.abs(free.astype(int) - _expected_pixelwise(img)[0]).max() <= 1


def test_real_detection_photos_of_many_sizes(tmp_path):
    _, files = _real_dir("detection/images")
    files = files[::4]  # a spread of sizes; PNG encoding dominates the time
    summary = predict.predict_files(pixelwise, files, tmp_path, progress=False, tile=128,
                                    overlap=16)
    assert summary["failed"] == []
    for path in files:
        h, w = read_image(path).shape[:2]
        assert _size(tmp_path / f"{path.stem}.png") == (w, h), path


def test_grayscale_rgba_16bit_webp_inputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rgb = _image(20, 30)
    _save(src / "gray.png", rgb[..., 0])
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 255, np.uint8)], axis=2)
    _save(src / "rgba.png", rgba)
    gray16 = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100)
    _save(src / "gray16.png", gray16)
    _save(src / "photo.webp", rgb, lossless=True)
    _save(src / "photo.jpg", rgb, quality=95)
    (src / "notes.txt").write_text("not an image")
    assert Image.open(src / "gray16.png").mode.startswith("I")

    out = tmp_path / "out"
    summary = predict.predict_files(pixelwise, [src], out, progress=False)
    assert summary["failed"] == []
    for stem in ("gray", "rgba", "gray16", "photo", "photo_webp"):
        with Image.open(out / f"{stem}.png") as im:
            assert im.size == (30, 20) and im.mode == "RGB", stem
        with Image.open(out / f"{stem}_mask.png") as im:
            assert im.size == (30, 20) and im.mode == "L", stem
    # lossless WebP decodes exactly: its output is the model applied to the pixels
    want, _ = _expected_pixelwise(rgb)
    got = np.asarray(Image.open(out / "photo_webp.png"))
    assert np.abs(got.astype(int) - want).max() <= 1


def test_exif_orientation_gives_rotated_size(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(tmp_path / "phone.jpg", _image(20, 40), exif=exif.tobytes())
    assert _size(path) == (40, 20)
    out = tmp_path / "out"
    summary = predict.predict_files(pixelwise, [path], out, progress=False, compare=True)
    assert summary["failed"] == []
    assert _size(out / "phone.png") == (20, 40)
    assert _size(out / "phone_mask.png") == (20, 40)
    assert _size(out / "phone_compare.png") == (60, 40)


def test_compare_image(tmp_path):
    img = _image(24, 31)
    path = _save(tmp_path / "a.png", img)
    out = tmp_path / "out"
    predict.predict_files(pixelwise, [path], out, compare=True, progress=False)
    compare = np.asarray(Image.open(out / "a_compare.png"))
    assert compare.shape == (24, 3 * 31, 3)
    free, mask = _expected_pixelwise(img)
    np.testing.assert_array_equal(compare[:, :31], img)
    np.testing.assert_array_equal(compare[:, 31:62], np.asarray(Image.open(out / "a.png")))
    assert np.abs(compare[:, 31:62].astype(int) - free).max() <= 1
    np.testing.assert_array_equal(compare[:, 62:], np.repeat(mask[..., None], 3, axis=2))


def test_no_mask_from_model(tmp_path):
    path = _save(tmp_path / "a.png", _image(10, 12))
    out = tmp_path / "out"
    summary = predict.predict_files(box_blur, [path], out, compare=True, progress=False)
    assert sorted(os.listdir(out)) == ["a.png", "a_compare.png"]
    assert _size(out / "a_compare.png") == (24, 10)
    assert len(summary["written"]) == 2


def test_corrupt_file_among_good_ones(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _save(src / "a.png", _image(12, 13))
    _save(src / "c.png", _image(14, 15))
    buf = io.BytesIO()
    Image.fromarray(_image(64, 64)).save(buf, format="PNG")
    (src / "b.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # truncated
    (src / "d.jpg").write_bytes(b"this is not a jpeg")
    missing = tmp_path / "missing.png"

    out = tmp_path / "out"
    summary = predict.predict_files(pixelwise, [src, missing], out, progress=True)
    assert sorted(os.listdir(out)) == ["a.png", "a_mask.png", "c.png", "c_mask.png"]
    failed = dict(summary["failed"])
    assert set(failed) == {str(src / "b.png"), str(src / "d.jpg"), str(missing)}
    assert sorted(summary["written"]) == sorted(str(out / n) for n in os.listdir(out))
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "skipped" in line]) == 3
    assert "b.png" in err and "d.jpg" in err and "missing.png" in err


def test_unwritable_out_dir_raises_before_work(tmp_path):
    path = _save(tmp_path / "a.png", _image(8, 8))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    calls = Recording(pixelwise)
    for out in (blocker / "out", blocker):
        with pytest.raises(UserError, match=str(out)):
            predict.predict_files(calls, [path], out, progress=False)
    assert calls.shapes == []


def test_bad_tiling_is_a_user_error(tmp_path):
    path = _save(tmp_path / "a.png", _image(8, 8))
    with pytest.raises(UserError, match="overlap"):
        predict.predict_files(pixelwise, [path], tmp_path / "out", tile=64, overlap=64)


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    paths = [_save(tmp_path / f"{k}.png", _image(8, 8, seed=k)) for k in range(3)]
    (tmp_path / "bad.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    summary = predict.predict_files(pixelwise, paths + [tmp_path / "bad.png"], out)
    assert len(summary["written"]) == 6 and len(summary["failed"]) == 1
    text = terminal.getvalue()
    assert "4/4" in text and "skipped" in text and "bad.png" in text


def test_output_would_replace_input(tmp_path):
    path = _save(tmp_path / "a.png", _image(8, 8))
    with pytest.raises(UserError, match="replace an input"):
        predict.predict_files(pixelwise, [path], tmp_path, progress=False)
    # a JPEG in the output folder is fine: its output a.png is a different file
    jpg = _save(tmp_path / "b.jpg", _image(8, 8))
    summary = predict.predict_files(pixelwise, [jpg], tmp_path, progress=False)
    assert summary["failed"] == [] and (tmp_path / "b.png").exists()


def test_same_stem_is_not_overwritten(tmp_path):
    src, other = tmp_path / "in", tmp_path / "other"
    src.mkdir()
    other.mkdir()
    _save(src / "a.png", _image(8, 9, seed=1))
    _save(src / "a.jpg", _image(10, 11, seed=2))
    _save(src / "a_mask.png", _image(12, 13, seed=3))
    _save(other / "a.png", _image(14, 15, seed=4))
    out = tmp_path / "out"
    summary = predict.predict_files(pixelwise, [src, other], out, progress=False)
    assert summary["failed"] == []
    # sorted folder order: a.jpg, a.png, a_mask.png; then other/a.png
    assert _size(out / "a.png") == (11, 10)
    assert _size(out / "a_png.png") == (9, 8)
    assert _size(out / "a_mask_png.png") == (13, 12)
    assert _size(out / "a_png_2.png") == (15, 14)
    assert _size(out / "a_mask.png") == (11, 10)  # the mask of a.jpg, not the input a_mask.png
    assert len(os.listdir(out)) == 8


def test_collect_inputs(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.jpg", "a.PNG", "c.webp"):
        (folder / name).write_bytes(b"")
    (folder / "sub" / "deep.png").write_bytes(b"")
    (folder / "readme.txt").write_text("")
    empty = tmp_path / "empty"
    empty.mkdir()
    single = tmp_path / "x.png"
    single.write_bytes(b"")
    files, problems = predict.collect_inputs([folder, single, tmp_path / "nope.png", empty,
                                              str(single)])
    assert [p.name for p in files] == ["a.PNG", "b.jpg", "c.webp", "x.png"]
    assert all(isinstance(p, DataError) for p in problems)
    assert [Path(p.path).name for p in problems] == ["nope.png", "empty"]


# --------------------------------------------------------------------------- working resolution


@jax.jit
def smooth_affine(x):
    """A model whose correction is smooth: gain and offset vary slowly across the image."""
    n, h, w, _ = x.shape
    ramp = jnp.linspace(0.0, 1.0, w)[None, None, :, None]
    gain = 1.0 + 0.5 * ramp * jnp.ones((n, h, w, 3))
    offset = 0.02 * jnp.ones((n, h, w, 3))
    mask = jnp.broadcast_to(ramp, (n, h, w, 1))
    return {"shadow_free": x * gain + offset, "mask": mask, "gain": gain, "offset": offset}


def test_working_resolution_applies_the_upsampled_correction_at_full_size():
    img = _image(300, 500, seed=4)  # noisy texture: any blur of the output would show
    calls = Recording(smooth_affine)
    free, mask = predict.remove_shadows(calls, img, size=128)
    assert free.shape == (300, 500, 3) and mask.shape == (300, 500)
    assert set(calls.shapes) == {(1, 128, 128, 3)}  # shrunk to long side 128, on a square canvas
    # the correction, upsampled, applied to the full-resolution pixels: the texture survives
    x = img.astype(np.float64) / 255.0
    # the 500 columns became 128 (and the 300 rows 77, padded to 128): the gain ramp spans the
    # 128 columns, and comes back to 500 by linear interpolation between pixel centres
    ramp = np.interp((np.arange(500) + 0.5) * 128 / 500 - 0.5, np.arange(128),
                     np.linspace(0, 1, 128))
    want = np.rint(np.clip(x * (1 + 0.5 * ramp[None, :, None]) + 0.02, 0, 1) * 255)
    assert np.abs(free.astype(int) - want).max() <= 1
    assert np.corrcoef(free[..., 0].ravel(), img[..., 0].ravel())[0, 1] > 0.95


def test_working_resolution_leaves_small_images_alone():
    img = _image(60, 90, seed=5)
    calls = Recording(pixelwise)
    free, mask = predict.remove_shadows(calls, img, size=128)
    want_free, want_mask = _expected_pixelwise(img)
    assert np.abs(free.astype(int) - want_free).max() <= 1
    np.testing.assert_array_equal(mask, want_mask)
    assert calls.shapes == [(1, 64, 96, 3)]


def test_working_resolution_one_shape_for_every_aspect():
    calls = Recording(pixelwise)
    for h, w in ((300, 500), (500, 300), (257, 1000), (400, 400)):
        predict.remove_shadows(calls, _image(h, w), size=96)
    assert set(calls.shapes) == {(1, 96, 96, 3)}


def test_working_resolution_takes_float_and_grayscale_images_as_uint8_ones():
    img = _image(300, 500, seed=6)
    free, mask = predict.remove_shadows(smooth_affine, img, size=128)
    free_f, mask_f = predict.remove_shadows(smooth_affine, img.astype(np.float64) / 255.0,
                                            size=128)
    assert np.abs(free.astype(int) - free_f).max() <= 1
    assert np.abs(mask.astype(int) - mask_f).max() <= 1
    gray = img[..., 1]
    free_g, _ = predict.remove_shadows(smooth_affine, gray, size=128)
    free_rgb, _ = predict.remove_shadows(smooth_affine, np.repeat(gray[..., None], 3, axis=2),
                                         size=128)
    np.testing.assert_array_equal(free_g, free_rgb)


def test_working_resolution_without_a_model_mask():
    def no_mask(x):
        return {k: v for k, v in smooth_affine(x).items() if k != "mask"}
    img = _image(300, 500, seed=7)
    free, mask = predict.remove_shadows(no_mask, img, size=128)
    assert mask is None
    np.testing.assert_array_equal(free, predict.remove_shadows(smooth_affine, img, size=128)[0])
