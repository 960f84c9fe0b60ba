"""read_image / image_size: conversions (checked by value), EXIF orientation, masks, bad files."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jaxshadow.data.images import image_size, read_image
from jaxshadow.errors import DataError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def write_png16(path, array):
    """A 16-bit-per-sample PNG (gray, RGB or RGBA) written by hand: Pillow cannot write 48/64-bit."""
    array = np.asarray(array, dtype=">u2")
    color_type = 0 if array.ndim == 2 else {3: 2, 4: 6}[array.shape[2]]
    height, width = array.shape[:2]
    raw = b"".join(b"\x00" + array[y].tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_rgb_png_is_read_exactly(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, a)
    assert image_size(tmp_path / "a.png") == (5, 7)


def test_grayscale_and_bilevel_become_three_equal_channels(tmp_path):
    g = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    Image.fromarray(g).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(g[..., None], 3, axis=2))
    Image.fromarray(g >= 128).save(tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == "1"
    expected = np.array([[0, 0, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), np.repeat(expected[..., None], 3, 2))


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [0, 100, 200, 128]]], dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    alpha = 128 / 255
    half = [round(c * alpha + 255 * (1 - alpha)) for c in (0, 100, 200)]
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"),
                                  [[[10, 20, 30], [255, 255, 255], half]])
    la = np.array([[[50, 255], [50, 0]]], dtype=np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png"), [[[50] * 3, [255] * 3]])


def test_palette_becomes_its_colours(tmp_path):
    img = Image.new("P", (3, 1))
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    img.putdata([2, 0, 1])
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"),
                                  [[[0, 0, 255], [255, 0, 0], [0, 255, 0]]])
    img.info["transparency"] = 0
    img.save(tmp_path / "pt.png", transparency=0)
    np.testing.assert_array_equal(read_image(tmp_path / "pt.png"),
                                  [[[0, 0, 255], [255, 255, 255], [0, 255, 0]]])


def test_16bit_gray_scales_to_8bit(tmp_path):
    v = np.array([[0, 257, 32896, 65535, 1000]], dtype=np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    expected = np.rint(v / 257).astype(np.uint8)  # [0, 1, 128, 255, 4]
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[..., 0], expected)
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png", kind="mask"), [[0, 0, 255, 255, 0]])


def test_48bit_and_64bit_png_use_all_16_bits(tmp_path):
    rng = np.random.default_rng(1)
    v = rng.integers(0, 65536, (4, 6, 3)).astype(np.uint16)
    v[0, 0] = [65280, 32767, 127]  # Pillow's own high-byte reading gives 255, 127, 0 here
    write_png16(tmp_path / "c48.png", v)
    assert Image.open(tmp_path / "c48.png").mode == "RGB"  # Pillow: 8 bits, high byte only
    out = read_image(tmp_path / "c48.png")
    np.testing.assert_array_equal(out, np.rint(v / 257).astype(np.uint8))
    np.testing.assert_array_equal(out[0, 0], [254, 127, 0])

    rgba = np.concatenate([v, np.full((4, 6, 1), 65535, np.uint16)], axis=2)
    rgba[0, 1, 3] = 0
    write_png16(tmp_path / "c64.png", rgba)
    expected = np.rint(v / 257).astype(np.uint8)
    expected[0, 1] = 255
    np.testing.assert_array_equal(read_image(tmp_path / "c64.png"), expected)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=100)
    out = read_image(tmp_path / "cmyk.jpg")
    assert out.shape == (8, 8, 3)
    assert out[4, 4, 0] > 240 and out[4, 4, 1] < 15 and out[4, 4, 2] < 15  # red


def _halves(height, width):
    """Left half red, right half blue."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:, : width // 2, 0] = 255
    a[:, width // 2:, 2] = 255
    return a


def test_exif_orientation_6_jpeg_is_turned(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display turned 90 degrees clockwise
    Image.fromarray(_halves(8, 16)).save(tmp_path / "o6.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "o6.jpg")
    assert out.shape == (16, 8, 3)
    assert image_size(tmp_path / "o6.jpg") == (16, 8)
    # Turned clockwise, the left (red) half is now on top, the right (blue) half below.
    assert out[3, 4, 0] > 200 and out[3, 4, 2] < 50
    assert out[12, 4, 2] > 200 and out[12, 4, 0] < 50


def test_exif_orientation_on_png_is_exact(tmp_path):
    a = np.random.default_rng(2).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 3  # upside down
    Image.fromarray(a).save(tmp_path / "o3.png", exif=exif)
    np.testing.assert_array_equal(read_image(tmp_path / "o3.png"), a[::-1, ::-1])


def test_masks_become_one_binary_channel(tmp_path):
    g = np.array([[0, 127, 128, 255, 3, 250]], dtype=np.uint8)
    binary = [[0, 0, 255, 255, 0, 255]]
    Image.fromarray(g).save(tmp_path / "m.png")
    out = read_image(tmp_path / "m.png", kind="mask")
    assert out.dtype == np.uint8 and out.shape == (1, 6)
    np.testing.assert_array_equal(out, binary)
    Image.fromarray(np.repeat(g[..., None], 3, 2)).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png", kind="mask"), binary)
    rgba = np.concatenate([np.repeat(g[..., None], 3, 2), np.zeros((1, 6, 1), np.uint8)], 2)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")  # alpha 0 everywhere: ignored for masks
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png", kind="mask"), binary)
    Image.fromarray(g >= 128).save(tmp_path / "bilevel.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bilevel.png", kind="mask"), binary)


def test_real_detection_masks_binarize():
    masks = sorted((REAL / "detection" / "masks").glob("*.png"))
    assert len(masks) >= 50, f"expected the real detection masks under {REAL}; see its README"
    not_binary = 0
    for path in masks:
        raw = np.asarray(Image.open(path))
        not_binary += bool(np.setdiff1d(np.unique(raw), [0, 255]).size)
        out = read_image(path, kind="mask")
        assert out.ndim == 2 and set(np.unique(out)) <= {0, 255}, path
        image = REAL / "detection" / "images" / (path.stem + ".jpg")
        assert out.shape == image_size(image), path
    assert not_binary > 0  # the README's warning holds: binarizing is needed


def _cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("name", ["t.png", "t.jpg", "t.bmp", "t.webp", "t.tiff"])
def test_truncated_files_raise(tmp_path, name):
    a = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / name)
    _cut(tmp_path / name)
    with pytest.raises(DataError, match="truncated or corrupt image") as info:
        read_image(tmp_path / name)
    assert info.value.path == str(tmp_path / name)


def test_unreadable_files_raise(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="truncated or corrupt image.*empty file"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(DataError, match="truncated or corrupt image"):
        image_size(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(DataError, match="not a recognised image format"):
        read_image(tmp_path / "text.jpg", kind="mask")
    with pytest.raises(DataError, match="file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(DataError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(ValueError):
        read_image(tmp_path / "empty.png", kind="depth")
