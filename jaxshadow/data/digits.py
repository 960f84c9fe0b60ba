"""scikit-learn's handwritten digits (1,797 real 8×8 scans, bundled with scikit-learn).

Upsampled bilinearly to 28×28 (MNIST's size), values 0..16 scaled to uint8 0..255. A fixed
held-out split: a permutation drawn from seed 0 puts 360 images in 'test', 1,437 in 'train'.
"""

import numpy as np
from PIL import Image

from jaxshadow.data.arrays import ArraySource

TEST_SIZE = 360


def _upsample(images, size):
    out = np.empty((len(images), size, size), np.float32)
    for i, image in enumerate(images):
        out[i] = np.asarray(Image.fromarray(image.astype(np.float32)).resize(
            (size, size), Image.BILINEAR))
    return out


def load_digits(size=28):
    """An ArraySource with 'train' and 'test': image uint8 (N, size, size, 1), label int32 (N,)."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    images = _upsample(data.images, size) * (255.0 / 16.0)
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)[..., None]
    labels = data.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return ArraySource("digits", {
        "train": {"image": images[train], "label": labels[train]},
        "test": {"image": images[test], "label": labels[test]},
    }, num_classes=10)
