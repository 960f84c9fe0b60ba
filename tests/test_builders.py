"""TFDS builders, prepared from tiny manual-dir trees; and `jaxshadow.data` without TensorFlow."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from jaxshadow.data.images import read_image  # noqa: E402
from jaxshadow.data.istd_plus import istd_plus_correct  # noqa: E402
from jaxshadow.errors import DataError  # noqa: E402

try:
    import tensorflow_datasets as tfds

    from jaxshadow.data.builders import Istd, IstdPlus, ShadowDetection, Srd
except ImportError:  # accelerator images without TensorFlow: only the last test applies
    tfds = None

needs_tfds = pytest.mark.skipif(tfds is None, reason="tensorflow-datasets is not installed")


def put(path, mask=False, seed=0, size=(16, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size if mask else (*size, 3), dtype=np.uint8)
    if mask:
        a = np.where(a >= 128, 255, 0).astype(np.uint8)
    Image.fromarray(a).save(path)
    return a


def prepare(builder_cls, tmp_path, manual_dir):
    builder = builder_cls(data_dir=str(tmp_path / "tfds"), config=None)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def read_split(builder, split):
    return {ex["id"].decode(): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}


def istd_manual_dir(root):
    """ISTD as extracted: manual_dir/ISTD_Dataset/{train,test}/...; returns {split: {id: arrays}}."""
    fixture = {}
    for split, n in (("train", 2), ("test", 3)):
        for i in range(n):
            base = root / "ISTD_Dataset" / split
            fixture.setdefault(split, {})[f"{i}-1"] = {
                "shadow": put(base / f"{split}_A" / f"{i}-1.png", seed=i),
                "mask": put(base / f"{split}_B" / f"{i}-1.png", mask=True, seed=i),
                "shadow_free": put(base / f"{split}_C" / f"{i}-1.png", seed=i + 100),
            }
    return fixture


@needs_tfds
def test_istd_and_istd_plus(tmp_path):
    fixture = istd_manual_dir(tmp_path / "manual")
    istd = prepare(Istd, tmp_path, tmp_path / "manual")
    assert istd.name == "istd"
    assert istd.info.splits["train"].num_examples == 2 and istd.info.splits["test"].num_examples == 3
    test = read_split(istd, "test")
    assert set(test) == set(fixture["test"])
    for key, want in fixture["test"].items():
        np.testing.assert_array_equal(test[key]["shadow"], want["shadow"])
        np.testing.assert_array_equal(test[key]["shadow_free"], want["shadow_free"])
        np.testing.assert_array_equal(test[key]["mask"], want["mask"][..., None])
        assert test[key]["mask"].dtype == np.uint8

    plus = prepare(IstdPlus, tmp_path, tmp_path / "manual")
    assert plus.name == "istd_plus"
    for key, ex in read_split(plus, "test").items():
        want = fixture["test"][key]
        np.testing.assert_array_equal(ex["shadow"], want["shadow"])
        np.testing.assert_array_equal(
            ex["shadow_free"], istd_plus_correct(want["shadow"], want["shadow_free"], want["mask"]))


@needs_tfds
def test_srd(tmp_path):
    manual = tmp_path / "manual"
    put(manual / "train/shadow/a.png", seed=1)
    put(manual / "train/shadow_free/a_no_shadow.png", seed=2)
    shadow = put(manual / "test/shadow/b.png", seed=3)
    free = put(manual / "test/shadow_free/b_free.png", seed=4)
    put(manual / "test/shadow/c.jpg", seed=5)
    put(manual / "test/shadow_free/c_free.jpg", seed=6)
    srd = prepare(Srd, tmp_path, manual)
    assert "mask" not in srd.info.features
    test = read_split(srd, "test")
    assert sorted(test) == ["b", "c"]
    np.testing.assert_array_equal(test["b"]["shadow"], shadow)
    np.testing.assert_array_equal(test["b"]["shadow_free"], free)
    # JPEGs: what the builder stores is what read_image decodes.
    np.testing.assert_array_equal(test["c"]["shadow"], read_image(manual / "test/shadow/c.jpg"))
    assert srd.info.splits["train"].num_examples == 1


@needs_tfds
def test_shadow_detection_sbu_layout_and_listing_problems(tmp_path):
    manual = tmp_path / "manual"
    want = {}
    for folder, split, n in (("SBUTrain4KRecoveredSmall", "train", 3), ("SBU-Test", "test", 2)):
        for i in range(n):
            image = put(manual / folder / "ShadowImages" / f"{split}{i}.png", seed=i, size=(12, 16))
            mask = put(manual / folder / "ShadowMasks" / f"{split}{i}.png", mask=True, seed=i, size=(12, 16))
            want[f"{split}{i}"] = (image, mask)
    det = prepare(ShadowDetection, tmp_path, manual)
    test = read_split(det, "test")
    assert sorted(test) == ["test0", "test1"] and det.info.splits["train"].num_examples == 3
    for key, ex in test.items():
        np.testing.assert_array_equal(ex["image"], want[key][0])
        np.testing.assert_array_equal(ex["mask"], want[key][1][..., None])

    (manual / "SBU-Test" / "ShadowMasks" / "test1.png").unlink()
    with pytest.raises(DataError, match="test1.png: no counterpart"):
        prepare(ShadowDetection, tmp_path / "again", manual)


def test_data_package_imports_without_tensorflow():
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "sys.modules['tensorflow_datasets'] = None\n"
        "import jaxshadow.data, jaxshadow.data.images, jaxshadow.data.layouts\n"
        "import jaxshadow.data.examples, jaxshadow.data.check, jaxshadow.data.istd_plus\n"
        "try:\n"
        "    import jaxshadow.data.builders\n"
        "except ImportError as e:\n"
        "    assert 'tensorflow-datasets' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('builders imported without TensorFlow')\n"
        "assert 'tensorflow' not in [m.split('.')[0] for m, v in sys.modules.items() if v]\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_tfds_source_without_tensorflow_datasets_says_how_to_get_it(monkeypatch):
    import importlib.util

    from jaxshadow.data.tfds_source import load_tfds
    from jaxshadow.errors import UserError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None
                        if name == "tensorflow_datasets" else find_spec(name, *args))
    with pytest.raises(UserError, match=r"'tfds:mnist' needs tensorflow-datasets: "
                                        r"pip install 'jaxshadow\[tf\]'"):
        load_tfds("mnist")
