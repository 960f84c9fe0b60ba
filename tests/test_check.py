"""check_source finds every problem of a tree; load_example rejects pairs that do not fit."""

import numpy as np
import pytest
from PIL import Image

from jaxshadow.data.check import check_source
from jaxshadow.data.examples import load_example
from jaxshadow.data.layouts import Example
from jaxshadow.errors import DataError


def put(path, height=16, width=16, mask=False, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (height, width) if mask else (height, width, 3)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    if mask:
        a = np.where(a >= 128, 255, 0).astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


def cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def istd_tree(root, n=3):
    for split in ("train", "test"):
        for i in range(n):
            put(root / split / f"{split}_A" / f"{i}.png", seed=i)
            put(root / split / f"{split}_B" / f"{i}.png", mask=True, seed=i)
            put(root / split / f"{split}_C" / f"{i}.png", seed=i + 10)
    return root


def test_clean_tree_is_ok(tmp_path):
    istd_tree(tmp_path)
    put(tmp_path / "test/test_A/9.png", 8, 12)
    put(tmp_path / "test/test_B/9.png", 8, 12, mask=True)
    put(tmp_path / "test/test_C/9.png", 8, 12)
    report = check_source("istd", tmp_path)
    assert report.ok, report.lines()
    assert report.splits["train"].listed == 3 and report.splits["test"].listed == 4
    assert report.splits["test"].sizes == {(16, 16): 3, (8, 12): 1}
    lines = report.lines()
    assert lines[0].endswith(": ok")
    assert "  test: 4 examples; sizes (WxH): 16x16: 3, 12x8: 1" in lines


def test_every_problem_is_reported(tmp_path):
    istd_tree(tmp_path)
    cut(tmp_path / "train/train_A/0.png")  # truncated PNG
    cut(tmp_path / "train/train_C/0.png")  # and its pair too: both named
    put(tmp_path / "train/train_C/1.png", 16, 20)  # shadow-free of another size
    put(tmp_path / "test/test_B/2.png", 8, 8, mask=True)  # mask of the wrong size
    (tmp_path / "test/test_C/1.png").unlink()  # missing counterpart
    report = check_source("istd", tmp_path)
    assert not report.ok
    by_path = {}
    for p in report.problems:
        by_path.setdefault(p.path, []).append(p.problem)
    assert "truncated or corrupt image" in by_path[str(tmp_path / "train/train_A/0.png")][0]
    assert "truncated or corrupt image" in by_path[str(tmp_path / "train/train_C/0.png")][0]
    assert "but its shadow-free counterpart" in by_path[str(tmp_path / "train/train_A/1.png")][0]
    assert "is 20x16" in by_path[str(tmp_path / "train/train_A/1.png")][0] and \
        str(tmp_path / "train/train_C/1.png") in by_path[str(tmp_path / "train/train_A/1.png")][0]
    assert "mask is 8x8" in by_path[str(tmp_path / "test/test_B/2.png")][0]
    assert "no counterpart" in by_path[str(tmp_path / "test/test_A/1.png")][0]
    assert report.splits["train"].listed == 3 and report.splits["train"].good == 1
    assert report.splits["test"].listed == 2 and report.splits["test"].good == 1
    lines = report.lines()
    assert lines[0].endswith(f"{len(report.problems)} problem(s)")
    assert f"{tmp_path / 'train/train_A/0.png'}: truncated or corrupt image" in "\n".join(lines)


def test_truncated_jpeg_is_named(tmp_path):
    for split, suffix in (("train", "_no_shadow"), ("test", "_free")):
        for i in range(2):
            put(tmp_path / split / "shadow" / f"{i}.jpg", seed=i)
            put(tmp_path / split / "shadow_free" / f"{i}{suffix}.jpg", seed=i)
    bad = tmp_path / "test/shadow_free/1_free.jpg"
    cut(bad)
    report = check_source("srd", tmp_path)
    assert [p.path for p in report.problems] == [str(bad)]
    assert report.problems[0].problem.startswith("truncated or corrupt image")
    assert report.splits["train"].good == 2 and report.splits["test"].good == 1


def test_missing_folder_is_reported_not_raised(tmp_path):
    istd_tree(tmp_path)
    for f in (tmp_path / "test/test_C").iterdir():
        f.unlink()
    (tmp_path / "test/test_C").rmdir()
    report = check_source("istd", tmp_path)
    assert [str(p) for p in report.problems] == [f"{tmp_path / 'test/test_C'}: folder not found"]
    assert report.splits["train"].good == 3 and report.splits["test"].listed == 0


def test_detection_report(tmp_path):
    for i in range(3):
        put(tmp_path / "images" / f"{i}.jpg", 10, 14, seed=i)
        put(tmp_path / "masks" / f"{i}.png", 10, 14, mask=True)
    put(tmp_path / "masks" / "2.png", 10, 15, mask=True)
    report = check_source("detection", tmp_path, splits=(None,))
    assert report.splits[None].listed == 3 and report.splits[None].sizes == {(10, 14): 3}
    assert [p.path for p in report.problems] == [str(tmp_path / "masks" / "2.png")]


def test_load_example_rejects_mismatched_pairs_and_masks(tmp_path):
    shadow = put(tmp_path / "shadow" / "a.jpg", 16, 16)
    free = put(tmp_path / "shadow_free" / "a_free.jpg", 16, 12)
    with pytest.raises(DataError) as info:
        load_example(Example("a", {"shadow": str(shadow), "shadow_free": str(free)}), source_name="srd")
    assert info.value.path == str(shadow) and str(free) in info.value.problem

    free = put(tmp_path / "shadow_free" / "a_free.jpg", 16, 16)
    mask = put(tmp_path / "mask" / "a.png", 12, 16, mask=True)
    example = Example("a", {"shadow": str(shadow), "shadow_free": str(free), "mask": str(mask)})
    with pytest.raises(DataError, match="mask is 16x12") as info:
        load_example(example, source_name="srd")
    assert info.value.path == str(mask)

    mask = put(tmp_path / "mask" / "a.png", 16, 16, mask=True)
    arrays = load_example(example, source_name="srd")
    assert arrays["shadow"].shape == (16, 16, 3) and arrays["mask"].shape == (16, 16)
    assert arrays["shadow"].dtype == arrays["mask"].dtype == np.uint8
    with pytest.raises(DataError, match="no image file"):
        load_example(example, source_name="detection")
