"""A folder dataset (istd, istd_plus, srd, paired, detection) decoded, checked and held in memory.

Every file of both splits is decoded once, in parallel, when the source is made, so a bad file
stops a run before its first step (or, with `skip_bad_examples`, is counted and left out).
Examples become rows of uint8 arrays; with `load_size=(H, W)` every image is resized to it
(bilinear; masks nearest), which a split of mixed sizes needs. Removal rows: `shadow`,
`shadow_free` (H, W, 3) and `mask` (H, W, 1, 0/255); detection rows: `image` and `mask`.
Each row also carries `index`, its position in the split (evaluation keys derive from it).
"""

import concurrent.futures

import numpy as np
from PIL import Image

from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.examples import load_example
from jaxshadow.data.layouts import DETECTION_SOURCES, split_listing
from jaxshadow.errors import DataError, UserError
from jaxshadow.warn import warn


def _resize(array, size, nearest):
    h, w = size
    if array.shape[:2] == (h, w):
        return array
    image = Image.fromarray(array)
    return np.asarray(image.resize((w, h), Image.NEAREST if nearest else Image.BILINEAR))


def load_arrays(example, name, load_size):
    """(arrays, None) for one listed example, resized to `load_size`; (None, DataError) when bad."""
    try:
        arrays = load_example(example, source_name=name)
    except DataError as e:
        return None, e
    if load_size:
        arrays = {k: _resize(v, load_size, k == "mask") for k, v in arrays.items()}
    if "mask" in arrays:
        arrays["mask"] = arrays["mask"][..., None]
    return arrays, None


def check_one_size(name, split, sizes):
    """UserError unless the split's images, of (height, width) `sizes`, share one size."""
    sizes = set(sizes)
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for h, w in sorted(sizes)[:4])
        raise UserError(f"{name} split '{split}' has images of different sizes ({shown}, ...); "
                        f"set data.load_size=(H, W) to resize them")


def stop_on_problems(problems, name, path, skip_bad_examples):
    """UserError naming the first bad file unless `skip_bad_examples` (then one warning)."""
    if problems and not skip_bad_examples:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]}{more}; `jaxshadow data check {name}:{path}` lists "
                        f"them all, data.skip_bad_examples=True skips them")
    if problems:
        warn(f"skipped {len(problems)} bad files in {name}:{path} (first: {problems[0]})")


def _rows(name, split, arrays):
    check_one_size(name, split, (a["shadow" if "shadow" in a else "image"].shape[:2]
                                 for a in arrays))
    keys = set.intersection(*(set(a) for a in arrays))
    rows = {k: np.stack([a[k] for a in arrays]) for k in sorted(keys)}
    rows["index"] = np.arange(len(arrays), dtype=np.int32)
    return rows


def load_folder_source(name, path, *, load_size=None, skip_bad_examples=False,
                       splits=("train", "test"), options=None, workers=8, listed=None):
    """An ArraySource with every split of the folder dataset `name` at `path`.

    `listed`: the splits' listings if already made, {split: (examples, problems)}."""
    problems, data = [], {}
    examples_of = {}
    for split in splits:
        examples, found = split_listing(name, path, split, options, listed)
        problems.extend(found)
        examples_of[split] = examples
    loaded = {}
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for split, examples in examples_of.items():
            results = list(pool.map(lambda e: load_arrays(e, name, load_size), examples))
            problems.extend(err for _, err in results if err is not None)
            loaded[split] = [(e, a) for e, (a, err) in zip(examples, results) if err is None]
    stop_on_problems(problems, name, path, skip_bad_examples)
    for split, good in loaded.items():
        if not good:
            raise UserError(f"{name} at {path}: no usable examples in split '{split}'")
        data[split] = _rows(name, split, [a for _, a in good])
    return ArraySource(name, data,
                       task="detection" if name in DETECTION_SOURCES else "removal")
