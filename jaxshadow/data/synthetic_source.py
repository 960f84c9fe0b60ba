"""The embedded `synthetic` source: real photos that ship with scikit-image and scikit-learn,
cut into tiles; shadows are rendered on the device by `jaxshadow.data.synthetic.render`.

Nothing is downloaded. Photos are split by photo, not by tile, so evaluation sees scenes the
model never trained on: train = astronaut, coffee, rocket, motorcycle (left view), china,
camera, brick, grass, gravel; test = chelsea (cat), flower. Each photo is cut into square tiles
of `tile` pixels (stride tile/2) at scales 1 and 1/2; rows hold `shadow_free` uint8
(tile, tile, 3) and `index`. Grey photos become grey RGB.
"""

import os

import numpy as np
from PIL import Image

from jaxshadow.data.arrays import ArraySource

TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "motorcycle_left", "china", "camera",
                "brick", "grass", "gravel")
TEST_PHOTOS = ("chelsea", "flower")
SCALES = (1.0, 0.5)


def _photo(name):
    """One bundled photo as uint8 (H, W, 3)."""
    if name in ("china", "flower"):
        import sklearn.datasets
        path = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", f"{name}.jpg")
        image = Image.open(path)
    else:
        import skimage.data
        folder = os.path.dirname(skimage.data.__file__)
        extension = "jpg" if name == "rocket" else "png"
        image = Image.open(os.path.join(folder, f"{name}.{extension}"))
    return np.asarray(image.convert("RGB"))


def _tiles(image, tile):
    out = []
    for scale in SCALES:
        h, w = image.shape[:2]
        size = (max(tile, round(w * scale)), max(tile, round(h * scale)))
        scaled = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
        stride = tile // 2
        for y in range(0, scaled.shape[0] - tile + 1, stride):
            for x in range(0, scaled.shape[1] - tile + 1, stride):
                out.append(scaled[y:y + tile, x:x + tile])
    return out


def load_synthetic(tile=96):
    """An ArraySource of photo tiles: 'train' and 'test' splits of shadow-free images."""
    splits = {}
    for split, names in (("train", TRAIN_PHOTOS), ("test", TEST_PHOTOS)):
        tiles = np.stack([t for name in names for t in _tiles(_photo(name), tile)])
        splits[split] = {"shadow_free": tiles, "index": np.arange(len(tiles), dtype=np.int32)}
    return ArraySource("synthetic", splits, task="removal", renders_shadows=True)
