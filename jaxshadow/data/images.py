"""Read one image file into a uint8 NumPy array: colour images as HxWx3, masks as HxW of 0/255.

The reader converts whatever the field's datasets and users' folders contain, and rejects only
files it cannot decode:

- The EXIF orientation is applied (`ImageOps.exif_transpose`), so the array is the picture as
  a viewer shows it (phone JPEGs are often stored sideways with Orientation = 6 or 8).
- Colour images: grayscale and 1-bit become three equal channels; palette images become RGB
  through their palette; CMYK, YCbCr, LAB and HSV are converted by Pillow. Transparency (RGBA,
  LA, palette with a transparent index) is *composited on white*: that is the picture a viewer
  shows, and a fully opaque alpha (the usual case) changes nothing. ICC profiles are ignored.
- 16 bits per channel become 8 bits by `round(v * 255 / 65535)`. 16-bit grayscale (Pillow mode
  `I;16`) is read as uint16. 48/64-bit RGB(A) PNGs are a trap: Pillow decodes them straight to
  8-bit by keeping the high byte (`v >> 8`); we decode the low bytes too and scale the full
  16-bit value. Where that trick does not apply (16-bit TIFF, 16-bit gray+alpha PNG), Pillow's
  high byte is used, which is never more than one level away. Mode `I` (32-bit integers) is
  taken as 16-bit data, mode `F` (floats) as values in [0, 1].
- Masks: any mode becomes one channel (colour masks by Pillow's luminance, `L = 0.299 R +
  0.587 G + 0.114 B`; alpha is ignored), then is binarized: `>= 128` -> 255, else 0. Real
  hand-made masks are not strictly 0/255 (JPEG-like noise near 0 and 255).

Truncated, corrupt, empty, missing or unreadable files raise `DataError(path, ...)`. Decoding
is forced to finish (`img.load()`), and Pillow's own default `ImageFile.LOAD_TRUNCATED_IMAGES
= False` is what makes a truncated JPEG fail instead of coming back half grey; this module never
changes that flag, and code that sets it to True would let truncated files through.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from jaxshadow.errors import DataError

KINDS = ("rgb", "mask")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the picture a quarter turn
_CORRUPT = "truncated or corrupt image"


def read_image(path, *, kind: str = "rgb", min_side: int | None = None) -> np.ndarray:
    """Reads the image at `path`: uint8 HxWx3 for `kind="rgb"`, uint8 HxW of 0/255 for `"mask"`.

    `min_side`: the caller will shrink the picture so that its shorter side is about this many
    pixels; JPEGs are then decoded at the smallest of 1/1, 1/2, 1/4, 1/8 scale that keeps both
    sides at least `min_side` (Pillow's `draft`, many times faster for large photos). Other
    formats are decoded at full size.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    img, png16 = _decode(path, min_side=min_side)
    if kind == "mask":
        return np.where(_to_gray8(img) >= 128, np.uint8(255), np.uint8(0))
    return _to_rgb8(img, png16, path)


def is_image_name(name) -> bool:
    """True for a file name with one of `IMAGE_EXTENSIONS` (case-insensitive)."""
    return os.path.splitext(str(name))[1].lower() in IMAGE_EXTENSIONS


def image_size(path) -> tuple[int, int]:
    """(height, width) of the image at `path` as `read_image` returns it, from the header only.

    Cheap: reads the header and the EXIF block, not the pixels, so a truncated file can pass.
    """
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise _io_error(path, e) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise DataError(path, f"{_CORRUPT} ({_describe(e, path)})") from e
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return height, width


# --------------------------------------------------------------------------- decoding


def _decode(path, rawmode: str | None = None,
            min_side: int | None = None) -> tuple[Image.Image, str | None]:
    """Opens, fully decodes and orients the image.

    Returns the image and, for a 48/64-bit PNG, the raw mode Pillow decoded it with (its high
    bytes); `rawmode` overrides the decoder's raw mode (to fetch the low bytes).
    """
    try:
        with Image.open(path) as img:
            png16 = _png16_rawmode(img)
            if rawmode is not None:
                img.tile = [img.tile[0]._replace(args=rawmode)]
            if min_side and img.format == "JPEG":
                img.draft(img.mode, (min_side, min_side))
            img.load()  # forces the whole decode: truncation surfaces here, not later
            ImageOps.exif_transpose(img, in_place=True)  # no copy when there is nothing to turn
            return img, png16
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise _io_error(path, e) from e
    except Image.DecompressionBombError as e:
        raise DataError(path, f"image too large to decode safely ({e})") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            IndexError, TypeError, KeyError, MemoryError) as e:
        # Pillow reports bad data through many exception types, depending on the plugin.
        raise DataError(path, f"{_CORRUPT} ({_describe(e, path)})") from e


def _png16_rawmode(img: Image.Image) -> str | None:
    if img.format != "PNG" or img.mode not in ("RGB", "RGBA") or len(img.tile) != 1:
        return None
    args = img.tile[0].args
    return args if args in ("RGB;16B", "RGBA;16B") else None


def _io_error(path, e: OSError) -> DataError:
    if isinstance(e, FileNotFoundError):
        return DataError(path, "file not found")
    if isinstance(e, IsADirectoryError):
        return DataError(path, "is a folder, not an image file")
    return DataError(path, f"cannot read the file ({e.strerror or e})")


def _describe(e: Exception, path) -> str:
    if isinstance(e, UnidentifiedImageError):
        try:
            if os.path.getsize(path) == 0:
                return "empty file"
        except (OSError, TypeError):
            pass
        return "not a recognised image format"
    return str(e) or type(e).__name__


def _to_rgb8(img: Image.Image, png16: str | None, path) -> np.ndarray:
    """HxWx3 uint8 from any decoded image (composited on white when it has transparency)."""
    mode = img.mode
    if mode in _HIGH_DEPTH_GRAY:
        return np.repeat(_round8(_unit_float(img))[..., None], 3, axis=2)
    if png16 is not None:
        full = _png16_full(img, png16, path)
        if full is not None:
            return _composite_on_white(full / 65535.0)
    if mode == "P":
        mode = "RGBA" if "transparency" in img.info else "RGB"
        img = img.convert(mode)
    if mode in ("1", "L"):
        return np.repeat(np.asarray(img.convert("L"))[..., None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode in _WITH_ALPHA:
        return _composite_on_white(np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)  # CMYK, YCbCr, LAB, HSV, ...


def _png16_full(img: Image.Image, png16: str, path) -> np.ndarray | None:
    """All 16 bits of a 48/64-bit PNG, or None where only Pillow's high bytes can be had.

    Pillow unpacks `RGB;16B` by keeping each sample's first (high) byte; asking for `RGB;16L`
    instead keeps the second (low) byte of the same big-endian samples.
    """
    high = np.asarray(img, dtype=np.uint16)
    try:
        low_img, _ = _decode(path, rawmode=png16.replace(";16B", ";16L"))
    except DataError:
        return None
    low = np.asarray(low_img, dtype=np.uint16)
    if low.shape != high.shape:
        return None
    return (high << 8) | low


def _composite_on_white(values: np.ndarray) -> np.ndarray:
    """uint8 RGB from floats in [0, 1] with 3 (RGB) or 4 (RGBA) channels."""
    if values.shape[-1] == 4:
        alpha = values[..., 3:]
        values = values[..., :3] * alpha + (1.0 - alpha)
    return _round8(values)


def _unit_float(img: Image.Image) -> np.ndarray:
    """A one-channel high-depth image as floats in [0, 1] (16-bit range; `F` taken as [0, 1])."""
    a = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        return np.clip(a, 0.0, 1.0)
    return np.clip(a, 0.0, 65535.0) / 65535.0


def _round8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def _to_gray8(img: Image.Image) -> np.ndarray:
    """HxW uint8 from any decoded image, for masks (alpha ignored)."""
    if img.mode in _HIGH_DEPTH_GRAY:
        return _round8(_unit_float(img))
    if img.mode in _WITH_ALPHA:
        img = img.convert("RGBA").convert("RGB")  # drop alpha: a mask's meaning is in its values
    return np.asarray(img.convert("L"), dtype=np.uint8)


_HIGH_DEPTH_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_WITH_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")
