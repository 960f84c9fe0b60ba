"""`photos:PATH`: any folders of shadow-free photographs, streamed from disk, as a removal source.

Shadows are rendered on the device (`jaxshadow.data.synthetic.render`), so a folder of ordinary
photos (JPEG, PNG, WebP, TIFF, BMP; any size; searched recursively; several folders separated by
commas) is a training set. Nothing is decoded up front: opening the source reads only the file
headers, and each example is decoded when the reader asks for it.

Examples are *views*: square `size` × `size` windows of a photo resized so that its shorter side
is `k · size`, for every `k` in `scales`, at `floor(side_k / size)` evenly spread positions along
each axis (a 4000×3000 photo with `size=256`, `scales=(1, 2, 3)` gives 1·1 + 2·2 + 3·4 = 17
views): the same photo is seen as a whole scene and as closer parts of it, which is how real
shadows vary in scale relative to the frame. Views are listed in a fixed order from the file
list, so example `i` of a split is always the same window and the pipeline's (seed, step)
determinism holds. Test views are the scale-1 views of the test photos.

Files that differ only by a resolution token such as `_1920x1080` are sizes of one picture
(wallpaper packages ship many), and so is a KDE Plasma wallpaper package's preview
(`<name>/contents/screenshot.png` beside `<name>/contents/images/1920x1080.png`): only the
largest is kept. Photos are split by a hash of that picture key with the light/dark variant
marks of the wallpaper packages removed (Plasma's `images_dark/`, GNOME's `-d` / `-l`), so a
picture's sizes, preview and variants all fall on one side and the test photos are not seen in
training. `test_fraction` of the photos are held out.

Memory is bounded: decoded, resized photos are kept in a least-recently-used cache of at most
`cache_gb` (a small folder stays in memory after the first epoch; a large one streams).

Bad files are reported by name and left out (never a traceback): unreadable or corrupt
headers, photos whose shorter side is under `MIN_SIDE` pixels, and photos over `MAX_PIXELS`.
Grayscale, palette, CMYK and 16-bit files are converted by `images.read_image`. A file whose
header is fine but whose data is broken is found when first read: it is reported once, and its
views are served from the next photo of the split (deterministically, every time).
"""

from __future__ import annotations

import collections
import os
import re
import threading
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from jaxshadow.data.arrays import read_tf
from jaxshadow.data.images import IMAGE_EXTENSIONS, image_size, read_image
from jaxshadow.errors import DataError, UserError
from jaxshadow.warn import warn

MIN_SIDE = 64            # photos with a shorter side below this are skipped
MAX_PIXELS = 50_000_000  # ... and photos above 50 megapixels
_SIZE_TOKEN = re.compile(r"[_-]?\d{3,5}x\d{3,5}")
_PREVIEW = re.compile(r"/contents/screenshot$")  # a Plasma package's preview of images/
_VARIANT = re.compile(r"(?<=/contents/images)_dark(?=/)|-[dl]$")  # dark / light versions


def list_photos(roots):
    """Image files under the folders `roots` (recursive, sorted), and the problems found.

    Returns `(photos, problems)`: photos as `(path, height, width)`, problems as `DataError`s
    for files that cannot be used. Raises UserError for a missing or empty folder.
    """
    photos, problems = [], []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"photos: folder not found: {root}")
        files = sorted(p for p in root.rglob("*")
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not files:
            raise UserError(f"photos: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
        for path in files:
            try:
                height, width = image_size(path)
            except DataError as e:
                problems.append(e)
                continue
            if min(height, width) < MIN_SIDE:
                problems.append(DataError(path, f"too small ({width}x{height}; the shorter side "
                                                f"must be at least {MIN_SIDE} pixels)"))
            elif height * width > MAX_PIXELS:
                problems.append(DataError(path, f"too large ({width}x{height} = "
                                                f"{height * width / 1e6:.0f} MP; at most "
                                                f"{MAX_PIXELS // 1_000_000} MP)"))
            else:
                photos.append((path, height, width))
    return photos, problems


def _picture_key(path, roots):
    """(the folder's position in `roots`, the path relative to it with resolution tokens and
    the extension removed): files with one key are sizes of one picture."""
    for number, root in enumerate(roots):
        try:
            rel = Path(path).relative_to(root)
            break
        except ValueError:
            continue
    else:
        number, rel = -1, Path(path)
    key = _SIZE_TOKEN.sub("", str(rel.with_suffix("")).replace(os.sep, "/"))
    return number, _PREVIEW.sub("/contents/images/", key)


def _split_key(path, roots):
    """A stable number in [0, 1) from the photo's picture key (`_picture_key`) with its
    light/dark variant mark removed: every size, preview and variant of a picture gets one."""
    return zlib.crc32(_VARIANT.sub("", _picture_key(path, roots)[1]).encode()) / 2**32


def _largest_of_each(photos, roots):
    """One photo per picture key (the one with the most pixels), in the original order."""
    best = {}
    for i, (path, height, width) in enumerate(photos):
        key = _picture_key(path, roots)
        if key not in best or height * width > photos[best[key]][1] * photos[best[key]][2]:
            best[key] = i
    return [photos[i] for i in sorted(best.values())]


def _scaled_shape(height, width, short):
    """(H, W) of the photo resized so that its shorter side is `short`."""
    if height <= width:
        return short, max(short, round(width * short / height))
    return max(short, round(height * short / width)), short


def _offsets(length, size):
    """floor(length / size) window starts spread evenly over [0, length - size]."""
    count = max(1, length // size)
    return np.linspace(0, length - size, count).round().astype(int).tolist()


def _views(photos, size, scales):
    """[(photo, short side, top, left)] for every window of every scale of every photo."""
    out = []
    for p, (_, height, width) in enumerate(photos):
        for k in scales:
            short = round(k * size)
            h, w = _scaled_shape(height, width, short)
            out.extend((p, short, top, left) for top in _offsets(h, size)
                       for left in _offsets(w, size))
    return out


class PhotoSource:
    """Square uint8 views of photographs; rows `shadow_free` (size, size, 3) and `index`."""

    task = "removal"
    renders_shadows = True
    num_classes = None

    def __init__(self, roots, *, size=256, scales=(1.0, 2.0, 3.0), test_fraction=0.05,
                 cache_gb=2.0):
        if size < MIN_SIDE:
            raise UserError(f"data.photo_size must be at least {MIN_SIDE}, got {size}")
        if not scales or min(scales) < 1.0:
            raise UserError(f"data.photo_scales must be factors >= 1, got {tuple(scales)}")
        if not 0.0 < test_fraction < 1.0:
            raise UserError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        self.name = "photos"
        self.roots = [str(r) for r in roots]
        self.size = int(size)
        photos, self.problems = list_photos(self.roots)
        if self.problems:
            shown = "; ".join(str(e) for e in self.problems[:3])
            more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
            warn(f"photos: skipped {len(self.problems)} files: {shown}{more}")
        if len(photos) < 2:
            raise UserError(f"photos: {', '.join(self.roots)} has {len(photos)} usable photo(s); "
                            f"at least 2 are needed (one to train on, one to evaluate)")
        photos = _largest_of_each(photos, self.roots)
        keys = [_split_key(path, self.roots) for path, _, _ in photos]
        test = {i for i, key in enumerate(keys) if key < test_fraction}
        if not test or len(test) == len(photos):  # small folders: hold out the smallest key
            test = {int(np.argmin(keys))}
        self._photos = {
            "train": [ph for i, ph in enumerate(photos) if i not in test],
            "test": [ph for i, ph in enumerate(photos) if i in test],
        }
        self._views = {"train": _views(self._photos["train"], self.size, tuple(scales)),
                       "test": _views(self._photos["test"], self.size, (1.0,))}
        self._cache = collections.OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = int(cache_gb * 2**30)
        self._lock = threading.Lock()
        self._broken = set()

    def num_examples(self, split):
        return len(self._views[split])

    def num_photos(self, split):
        return len(self._photos[split])

    def photo_paths(self):
        """Every photo the source reads, both splits."""
        return [path for split in ("train", "test") for path, _, _ in self._photos[split]]

    def decoded_bytes(self):
        """Bytes of every view of both splits, decoded."""
        return sum(self.num_examples(s) for s in ("train", "test")) * self.size ** 2 * 3

    def element_spec(self, split):
        return {"shadow_free": ((self.size, self.size, 3), np.dtype(np.uint8)),
                "index": ((), np.dtype(np.int32))}

    def read(self, split, index):
        """View `index` of `split`: {'shadow_free': uint8 (size, size, 3), 'index': int32}."""
        photo, short, top, left = self._views[split][int(index)]
        scaled = self._scaled(split, photo, short)
        # (a substitute for a broken photo may be smaller than the view's own photo)
        top = min(top, scaled.shape[0] - self.size)
        left = min(left, scaled.shape[1] - self.size)
        window = scaled[top:top + self.size, left:left + self.size]
        return {"shadow_free": np.ascontiguousarray(window), "index": np.int32(index)}

    def read_tf(self, split, index):
        """`read` for tf.data (index: a scalar int64 tensor)."""
        return read_tf(self, split, index)

    def _scaled(self, split, photo, short):
        """The photo resized to shorter side `short` (uint8 (H, W, 3)), through the cache."""
        photos = self._photos[split]
        for attempt in range(len(photos)):
            p = (photo + attempt) % len(photos)
            key = (split, p, short)
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
            path, height, width = photos[p]
            if path in self._broken:  # found broken before: not decoded again
                continue
            try:
                image = read_image(path, min_side=short)
            except DataError as e:
                with self._lock:
                    first = path not in self._broken
                    self._broken.add(path)
                if first:
                    warn(f"photos: {e}; its views are taken from the next photo")
                continue
            h, w = _scaled_shape(*image.shape[:2], short)
            if (h, w) != image.shape[:2]:
                image = np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC,
                                                                 reducing_gap=3.0))
            self._remember(key, image)
            return image
        raise UserError(f"photos: no photo of split '{split}' in {', '.join(self.roots)} "
                        f"could be decoded")

    def _remember(self, key, image):
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = image
            self._cache_bytes += image.nbytes
            while self._cache_bytes > self._cache_limit and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= old.nbytes


def photo_roots(spec_path):
    """The folders of `photos:PATH[,PATH...]` (the part after the colon)."""
    roots = [p for p in str(spec_path).split(",") if p]
    if not roots:
        raise UserError("data.source 'photos' needs a folder: photos:PATH")
    return roots


def load_photos(spec_path, data_config):
    """The PhotoSource for `photos:PATH[,PATH...]` with the options of `data_config`."""
    roots = photo_roots(spec_path)
    return PhotoSource(roots, size=data_config.photo_size,
                       scales=tuple(data_config.photo_scales),
                       test_fraction=data_config.test_fraction, cache_gb=data_config.cache_gb)
