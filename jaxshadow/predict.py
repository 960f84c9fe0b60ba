"""Shadow removal on users' own photos: any size, any aspect, no mask needed (or one given).

The library behind `jaxshadow predict --workdir W --out DIR INPUT...`. It receives a model as a
function `apply_fn(batch) -> {"shadow_free": NHWC, "mask": NHW1 or None}` (float32 NHWC input in
[0, 1]; a jitted function, so every distinct input shape costs one compilation) and knows nothing
about checkpoints.

- `remove_shadows` runs the model on one image. Every array it passes has its height and width
  padded (reflect padding; edge padding along a 1-pixel axis) to a multiple of `multiple` (the
  network's total downsampling factor), and the result is cropped back to the input's size.
  Images larger than `tile` along either axis are cut into overlapping tiles that all have one
  shape, run in batches of a fixed size (the last batch filled up by repeating its last tile), so
  a whole folder of large photos compiles one shape. Along an axis no longer than `tile` the
  tile spans the whole (padded) axis. Tiles are blended with a separable weight: in each overlap
  band of width `overlap`, the outer quarter of each tile (where a network sees its own zero
  padding) gets weight 0 and the middle half a raised-cosine ramp, the weights of neighbouring
  tiles summing to 1, so there are no seams.
- `collect_inputs` turns the command line's files and folders into a list of image files.
- `predict_files` runs a folder's worth of images and writes PNGs atomically. Output names are
  `<stem>.png`, `<stem>_mask.png`, `<stem>_compare.png`; when two inputs would produce the same
  name (`a.png` and `a.jpg`, or `x/a.png` and `y/a.png`, or `a.png` and `a_mask.png`), the later
  one (in input order) gets its extension appended to its stem (`a_jpg.png`), then a counter
  (`a_png_2.png`) if that is still taken. Names are compared case-insensitively (macOS and
  Windows file systems are), and are assigned before any image is processed, so they do not
  depend on which files fail.
"""

from __future__ import annotations

import functools
import glob
import math
import os
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxshadow.data.images import is_image_name, read_image
from jaxshadow.errors import DataError, UserError
from jaxshadow.files import atomic_write, png_bytes

TILE_BATCH = 4  # tiles per model call
CORRECTION = ("gain", "offset")  # what a working-resolution run upsamples (with the mask)


# --------------------------------------------------------------------------- one image


def remove_shadows(apply_fn, image, *, tile: int = 512, overlap: int = 64, multiple: int = 16,
                   batch: int = TILE_BATCH, size: int = 0, mask=None):
    """Removes the shadows from one image (or, with `mask`, from where the mask says).

    Args:
      apply_fn: `apply_fn(x)` with `x` float32 (N, H, W, 3) in [0, 1], H and W multiples of
        `multiple`; returns a dict with "shadow_free" (N, H, W, 3), "mask" (N, H, W, 1) in
        [0, 1] or None (or absent), and optionally "gain", "offset" (N, H, W, 3) with
        shadow_free = x * gain + offset (absent: gain 1, offset the residual).
      image: uint8 (H, W, 3), or float (H, W, 3) in [0, 1]; (H, W) grayscale is accepted too.
      tile: largest height/width run in one piece; larger images are tiled (rounded up to a
        multiple of `multiple`).
      overlap: width of the band shared by neighbouring tiles, `0 <= overlap <= tile // 2`.
      multiple: the model's input height and width must be multiples of this.
      batch: tiles per model call (fixed, so the batch shape never changes).
      size: the working resolution: when > 0 and the image's long side is larger, the model
        runs on the image shrunk to long side `size` (antialiased), and its correction (gain,
        offset) and mask, which are smooth, are upsampled bilinearly and applied to the
        full-resolution image: `out = image * gain↑ + offset↑`, so the texture stays sharp.
        The shrunk image is reflect-padded to a `size` × `size` canvas, so photos of every
        aspect share one compiled shape.
      mask: optional shadow mask of the image, uint8 (H, W) in 0..255 or float in [0, 1]: it
        travels as a 4th input channel (resized, padded and tiled with the image), so
        `apply_fn` gets (N, H, W, 4) and must be a mask-guided one
        (`jaxshadow.inference.mask_guided_apply_fn`).

    Returns:
      `(shadow_free, mask)`: uint8 (H, W, 3) and uint8 (H, W) in 0..255, or None where the
      model gives no mask. Values are clipped to [0, 1] and rounded to the nearest level.
    """
    image = _rgb_image(image)
    tile = check_tiling(tile, overlap, multiple, batch)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    height, width = image.shape[:2]
    given = None if mask is None else _as_float_mask(mask, (height, width))
    if size and max(height, width) > size:
        shape = working_shape(height, width, size)
        small = np.asarray(shrink_image(image, shape))
        if given is not None:
            small = np.concatenate([small, np.asarray(shrink_image(given, shape))], axis=-1)
        side = _round_up(size, multiple)  # one canvas for every aspect: one compilation
        out = _full_outputs(apply_fn, small, tile, overlap, multiple, batch, CORRECTION,
                            canvas=(side, side) if side <= tile else None)
        free, mask = apply_correction(image, out["gain"], out["offset"], out["mask"])
    else:
        x = _to_float(image)
        if given is not None:
            x = np.concatenate([x, given], axis=-1)
        out = _full_outputs(apply_fn, x, tile, overlap, multiple, batch, ("shadow_free",))
        free, mask = _to_uint8(out["shadow_free"]), _to_uint8(out["mask"])
    return np.asarray(free), None if mask is None else np.asarray(mask)


def working_shape(height, width, size):
    """(h, w) of an image resized so that its long side is `size` (each side at least 1)."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


@functools.partial(jax.jit, static_argnums=1)
def shrink_image(image, shape):
    """(H, W, C) uint8 (0..255) or float -> float32 (shape[0], shape[1], C): bilinear
    (`jax.image.resize`, half-pixel centres), the kernel widened to the scale (no aliasing)."""
    x = _to_float(image, jnp)
    return jax.image.resize(x, (*shape, x.shape[2]), "linear", antialias=True)


@jax.jit
def apply_correction(image, gain, offset, mask):
    """A working-resolution correction applied to the full-resolution image, in one pass.

    image (H, W, 3) uint8 (0..255) or float in [0, 1]; gain, offset (h, w, 3); mask (h, w) or
    None -> uint8 (H, W, 3) levels of `image · gain↑ + offset↑` and uint8 (H, W) levels of
    `mask↑` (or None), ↑ the bilinear upsampling to (H, W) (`jax.image.resize`, half-pixel
    centres). Compiled once per image shape; the full-size float32 arrays exist only inside
    this one program, which XLA fuses into few passes over the photo.
    """
    height, width = image.shape[:2]

    def up(a):
        return jax.image.resize(a, (height, width, *a.shape[2:]), "linear")

    free = _to_float(image, jnp) * up(gain) + up(offset)
    return _to_uint8(free, jnp), None if mask is None else _to_uint8(up(mask), jnp)


def _full_outputs(apply_fn, x, tile, overlap, multiple, batch, keys, canvas=None):
    """The model's outputs `keys` (of "shadow_free", "gain", "offset": (H, W, 3)) and "mask"
    ((H, W) or None) for the whole (H, W, 3) image `x`, cropped to (H, W), float32.
    `canvas`: pad to this (height, width) instead of the next multiples of `multiple`."""
    height, width = x.shape[:2]
    if height <= tile and width <= tile:
        padded = pad_to(x, *(canvas or (_round_up(height, multiple), _round_up(width, multiple))))
        out = {k: None if v is None else v[0]
               for k, v in _outputs(apply_fn(padded[None]), padded[None], keys).items()}
    else:
        out = _tiled(apply_fn, x, tile, overlap, multiple, batch, keys)
    return {k: None if v is None else v[:height, :width] for k, v in out.items()}


def check_tiling(tile, overlap, multiple=16, batch=TILE_BATCH):
    """Returns `tile` rounded up to a multiple of `multiple`; ValueError for unusable values."""
    if tile < 1 or multiple < 1 or batch < 1:
        raise ValueError(f"tile, multiple and batch must be positive, got {tile}, {multiple}, "
                         f"{batch}")
    tile = _round_up(tile, multiple)
    if not 0 <= overlap <= tile // 2:
        raise ValueError(f"overlap must be between 0 and half the tile ({tile // 2} for tile "
                         f"{tile}), got {overlap}")
    return tile


def _tiled(apply_fn, x, tile, overlap, multiple, batch, keys):
    """Runs overlapping same-shape tiles and blends the outputs `keys` and the mask; returns
    the `_outputs` dict over the padded image, (H', W', C) arrays ((H', W') for the mask)."""
    rows = _axis_plan(x.shape[0], tile, overlap, multiple)
    cols = _axis_plan(x.shape[1], tile, overlap, multiple)
    (th, starts_y, wy), (tw, starts_x, wx) = rows, cols
    padded = pad_to(x, starts_y[-1] + th, starts_x[-1] + tw)
    acc = {}
    weight_acc = np.zeros(padded.shape[:2], np.float32)

    boxes = [(i, j) for i in range(len(starts_y)) for j in range(len(starts_x))]
    groups = [boxes[k:k + batch] for k in range(0, len(boxes), batch)]

    def dispatch(group):
        tiles = [padded[starts_y[i]:starts_y[i] + th, starts_x[j]:starts_x[j] + tw]
                 for i, j in group]
        tiles += [tiles[-1]] * (batch - len(tiles))  # one batch shape for every call
        tiles = np.stack(tiles)
        return apply_fn(tiles), tiles

    pending = dispatch(groups[0])
    for g, group in enumerate(groups):
        out, tiles = pending
        if g + 1 < len(groups):  # JAX dispatch is asynchronous: queue the next batch first
            pending = dispatch(groups[g + 1])
        for name, value in _outputs(out, tiles, keys).items():
            if value is None:
                acc.setdefault(name, None)
                continue
            if acc.get(name) is None:
                acc[name] = np.zeros((*padded.shape[:2], *value.shape[3:]), np.float32)
            for k, (i, j) in enumerate(group):
                w = np.outer(wy[i], wx[j]).astype(np.float32)
                w = w.reshape(w.shape + (1,) * (value.ndim - 3))
                acc[name][starts_y[i]:starts_y[i] + th, starts_x[j]:starts_x[j] + tw] += value[k] * w
        for i, j in group:
            weight_acc[starts_y[i]:starts_y[i] + th, starts_x[j]:starts_x[j] + tw] += np.outer(
                wy[i], wx[j])
    weight_acc = np.maximum(weight_acc, np.finfo(np.float32).tiny)  # every pixel has weight > 0
    return {name: None if a is None else a / weight_acc.reshape(
        weight_acc.shape + (1,) * (a.ndim - 2)) for name, a in acc.items()}


def _axis_plan(size, tile, overlap, multiple):
    """Tile length, tile starts and per-tile 1-D blend weights along one axis of `size` pixels.

    An axis no longer than `tile` is one tile of the padded axis. A longer one gets tiles of
    length `tile` at stride `tile - overlap`, and is padded to `tile + k * stride`.
    """
    if size <= tile:
        return _round_up(size, multiple), [0], [np.ones(_round_up(size, multiple))]
    stride = tile - overlap
    count = 1 + math.ceil((size - tile) / stride)
    starts = [k * stride for k in range(count)]
    up = _ramp(overlap)
    weights = []
    for k in range(count):
        w = np.ones(tile)
        if overlap and k > 0:
            w[:overlap] = up
        if overlap and k < count - 1:
            w[tile - overlap:] = up[::-1]  # 1 - up: the two tiles' weights sum to 1
        weights.append(w)
    return tile, starts, weights


def _ramp(overlap):
    """Weight of the incoming tile across an overlap band: 0 on the outer quarter (at least
    one pixel once the band is 2 wide), a raised cosine across the middle, 1 on the inner
    quarter. Reversed, it is 1 minus itself, so two neighbours' weights sum to 1."""
    if overlap == 0:
        return np.zeros(0)
    margin = max(overlap // 4, 1) if overlap >= 2 else 0
    length = overlap - 2 * margin
    r = np.zeros(overlap)
    r[overlap - margin:] = 1.0
    if length > 0:
        t = (np.arange(length) + 0.5) / length
        r[margin:overlap - margin] = 0.5 - 0.5 * np.cos(np.pi * t)
    return r


def _outputs(out, inputs, keys):
    """{key: (N, H, W, 3) for each of `keys` ("shadow_free", "gain", "offset"), "mask":
    (N, H, W) or None}, float32 NumPy, from a model's outputs for `inputs` (N, H, W, 3);
    without "gain"/"offset" the gain is 1 and the offset the residual. Outputs not asked for
    are not copied from the device."""
    mask = out.get("mask")
    if mask is not None:
        mask = np.asarray(mask, dtype=np.float32)
        if mask.ndim == 4:
            mask = mask[..., 0]
    result = {"mask": mask}
    own = out.get("gain") is not None and out.get("offset") is not None
    for key in keys:
        if key in ("gain", "offset") and not own:
            free = np.asarray(out["shadow_free"], dtype=np.float32)
            value = np.ones_like(free) if key == "gain" else free - inputs[..., :3]
        else:
            value = np.asarray(out[key], dtype=np.float32)
        result[key] = value
    return result


def _rgb_image(image):
    """image as an (H, W, 3) uint8 or float array (grayscale (H, W) repeated to RGB);
    ValueError for any other shape or dtype."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) image, got shape {a.shape}")
    if a.dtype != np.uint8 and not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"expected a uint8 or float image, got {a.dtype}")
    return a


def _to_float(image, xp=np):
    """uint8 levels / 255, or float values, as float32; xp: np (eager, no compilation per
    shape) or jnp (inside a jitted function)."""
    return (image.astype(xp.float32) / 255.0 if image.dtype == xp.uint8
            else image.astype(xp.float32))


def _as_float_mask(mask, shape):
    """(H, W) uint8 0..255 or float in [0, 1] -> (H, W, 1) float32; ValueError unless (H, W)
    is `shape`."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.shape != tuple(shape):
        raise ValueError(f"the mask is {m.shape[1]}×{m.shape[0]} pixels but the image is "
                         f"{shape[1]}×{shape[0]}")
    return np.clip(_to_float(m), 0.0, 1.0)[..., None]


def pad_to(x, height, width):
    """Pads (H, W, C) at the bottom and right to (height, width): reflect, or edge where an
    axis is 1 pixel long (reflection needs two). NumPy reflects repeatedly for long pads."""
    for axis, target in ((0, height), (1, width)):
        extra = target - x.shape[axis]
        if extra > 0:
            widths = [(0, 0)] * x.ndim
            widths[axis] = (0, extra)
            x = np.pad(x, widths, mode="reflect" if x.shape[axis] > 1 else "edge")
    return x


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


def _to_uint8(values, xp=np):
    """Values in [0, 1] (clipped) as the nearest of 256 levels, uint8; None stays None. xp as
    for `_to_float`."""
    if values is None:
        return None
    return xp.rint(xp.clip(values, 0.0, 1.0) * 255.0).astype(xp.uint8)


def side_by_side(images):
    """Concatenates images left to right: uint8 (H, sum W, 3).

    Grayscale (H, W) images are shown as gray RGB; shorter images are padded at the bottom
    with white to the tallest one's height.
    """
    if not images:
        raise ValueError("side_by_side needs at least one image")
    rgb = []
    for im in images:
        a = np.asarray(im, dtype=np.uint8)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        rgb.append(a)
    height = max(a.shape[0] for a in rgb)
    rgb = [np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0)), constant_values=255)
           for a in rgb]
    return np.concatenate(rgb, axis=1)


# --------------------------------------------------------------------------- files


def collect_inputs(paths):
    """The image files named by `paths`: files as given, folders as their image files (by
    extension, sorted by name, not recursive). Duplicates are kept once, in first order.

    Returns `(files, problems)`: a list of `Path`s and a list of `DataError`s for paths that do
    not exist or folders without images.
    """
    files, problems, seen = [], [], set()

    def add(path):
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found = sorted((p for p in path.iterdir() if p.is_file() and is_image_name(p.name)),
                               key=lambda p: p.name)
            except OSError as e:
                problems.append(DataError(path, f"cannot list the folder ({e.strerror or e})"))
                continue
            if not found:
                problems.append(DataError(path, "folder holds no image files "
                                                "(.png, .jpg, .jpeg, .webp, ...)"))
            for p in found:
                add(p)
        elif path.exists():
            add(path)
        else:
            problems.append(DataError(path, "file not found"))
    return files, problems


def output_names(files):
    """The output stem for each input file (see the module docstring for collisions)."""
    taken, names = set(), []
    for path in files:
        path = Path(path)
        stem, ext = path.stem, path.suffix.lstrip(".").lower() or "noext"
        name = stem
        if _output_files(name, fold=True) & taken:
            name, n = f"{stem}_{ext}", 2
            while _output_files(name, fold=True) & taken:
                name, n = f"{stem}_{ext}_{n}", n + 1
        taken |= _output_files(name, fold=True)
        names.append(name)
    return names


def _output_files(name, *, fold=False):
    files = {f"{name}{suffix}.png" for suffix in ("", "_mask", "_compare")}
    return {f.casefold() for f in files} if fold else files


def predict_files(apply_fn, inputs, out_dir, *, compare=False, progress=True, tile=512,
                  overlap=64, size=0, mask_dir=None):
    """Removes shadows from the images in `inputs` (files and folders) and writes PNGs.

    For each image, writes to `out_dir`: `<stem>.png` (the shadow-free image at the input's
    size), `<stem>_mask.png` (the predicted mask, 0-255, when the model gives one) and, with
    `compare`, `<stem>_compare.png` (input | output | mask as gray, side by side). Each file is
    written to a temporary file in `out_dir` and renamed into place, so no partial file is left.

    A missing or unreadable input is skipped, reported on stderr in one line and listed in
    "failed"; the others are still done. Raises `UserError` naming `out_dir` when it cannot be
    created or written, when an output would replace one of the inputs, or when `tile` and
    `overlap` do not fit together, before any work. `size`: the working resolution
    (`remove_shadows`; 0: the model sees the full-resolution image). `mask_dir`: a folder
    with each image's shadow mask (`read_mask_for`: `<stem>_mask.*` or `<stem>.*`, binarised at
    128), for a mask-guided `apply_fn`; an image without one, or with one of another size, is
    skipped and reported. The mask written is then that mask.

    Returns `{"written": [output paths (str)], "failed": [(input path (str), message)]}`.
    """
    try:
        check_tiling(tile, overlap)
    except ValueError as e:
        raise UserError(f"tile {tile}, overlap {overlap}: {e}") from e
    if mask_dir is not None and not Path(mask_dir).is_dir():
        raise UserError(f"{mask_dir}: the mask folder does not exist")
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    files, problems = collect_inputs(inputs)
    names = output_names(files)
    _check_no_input_replaced(files, names, out_dir)

    written, failed = [], []
    bar = None
    if progress and len(files) > 1 and _isatty(sys.stderr):
        from tqdm import tqdm
        bar = tqdm(total=len(files), unit="image", dynamic_ncols=True, file=sys.stderr)

    def report(path, message):
        failed.append((str(path), message))
        line = f"jaxshadow predict: skipped {path}: {message}"
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    for problem in problems:
        report(problem.path, problem.problem)
    try:
        for path, name in zip(files, names):
            try:
                image = read_image(path, kind="rgb")
                given = None if mask_dir is None else read_mask_for(path, mask_dir, image.shape)
            except DataError as e:
                report(path, e.problem)
            else:
                free, mask = remove_shadows(apply_fn, image, tile=tile, overlap=overlap,
                                            size=size, mask=given)
                outputs = [(f"{name}.png", free)]
                if mask is not None:
                    outputs.append((f"{name}_mask.png", mask))
                if compare:
                    panels = [image, free] + ([mask] if mask is not None else [])
                    outputs.append((f"{name}_compare.png", side_by_side(panels)))
                try:
                    for filename, array in outputs:
                        target = out_dir / filename
                        _write_png_atomic(array, target)
                        written.append(str(target))
                except OSError as e:
                    report(path, f"cannot write to {out_dir} ({e.strerror or e})")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return {"written": written, "failed": failed}


def read_mask_for(image_path, mask_dir, shape):
    """The mask of `image_path` in `mask_dir` (uint8 (H, W), 0 or 255): the image file there
    named `<stem>_mask` (as `predict` writes masks, and ISTD names them beside the photos),
    else `<stem>` (as ISTD's test_B and SBU's ShadowMasks folders do), any image extension,
    never the image itself. DataError naming what is missing or does not match `shape`."""
    stem = Path(image_path).stem
    itself = os.path.realpath(image_path)
    for name in (f"{stem}_mask", stem):
        found = sorted(p for p in Path(mask_dir).glob(f"{glob.escape(name)}.*")
                       if p.is_file() and is_image_name(p.name) and p.stem == name
                       and os.path.realpath(p) != itself)
        if found:
            break
    if not found:
        raise DataError(image_path, f"no mask for it in {mask_dir} (looked for {stem}_mask.png, "
                                    f"{stem}.png, .jpg, ...)")
    try:
        mask = read_image(found[0], kind="mask")
    except DataError as e:
        raise DataError(image_path, f"its mask {found[0]}: {e.problem}") from e
    if mask.shape != tuple(shape[:2]):
        raise DataError(image_path, f"its mask {found[0]} is {mask.shape[1]}×{mask.shape[0]} "
                                    f"pixels, the image {shape[1]}×{shape[0]}")
    return mask


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _check_writable(out_dir):
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out_dir}: cannot create the output folder "
                        f"({e.strerror or e})") from e
    try:
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".jaxshadow-", suffix=".tmp"):
            pass
    except OSError as e:
        raise UserError(f"{out_dir}: cannot write to the output folder "
                        f"({e.strerror or e})") from e


def _check_no_input_replaced(files, names, out_dir):
    inputs = {os.path.normcase(os.path.realpath(p)) for p in files}
    for name in names:
        for filename in sorted(_output_files(name)):
            target = os.path.normcase(os.path.realpath(out_dir / filename))
            if target in inputs:
                raise UserError(f"{out_dir}: writing {filename} there would replace an input "
                                f"image; choose another output folder")


def _write_png_atomic(array, target):
    """Writes `array` as a PNG at `target` atomically (`jaxshadow.files.atomic_write`)."""
    atomic_write(target, png_bytes(Image.fromarray(np.ascontiguousarray(array))))
