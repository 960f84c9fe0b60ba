"""The listers of layouts.py, on fixture trees: matching, problems, missing folders, held-out splits."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from jaxshadow.data.layouts import (Example, holdout, list_detection, list_istd, list_paired,
                                    list_source, list_srd)
from jaxshadow.errors import DataError, UserError


def put(path, size=(4, 4)):
    """A tiny image file (format from the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((*size, 3), np.uint8)).save(path)
    return str(path)


def istd_tree(root, ids=("1", "2")):
    for split in ("train", "test"):
        for letter in "ABC":
            for i in ids:
                put(root / split / f"{split}_{letter}" / f"{i}.png")
    return root


def messages(problems):
    return [str(p) for p in problems]


def test_istd_lists_triplets(tmp_path):
    istd_tree(tmp_path)
    examples, problems = list_istd(tmp_path, "test")
    assert problems == []
    assert [e.id for e in examples] == ["1", "2"]
    assert examples[0].files == {"shadow": str(tmp_path / "test/test_A/1.png"),
                                 "mask": str(tmp_path / "test/test_B/1.png"),
                                 "shadow_free": str(tmp_path / "test/test_C/1.png")}
    assert list_source("istd_plus", tmp_path, "train") == list_istd(tmp_path, "train")
    with pytest.raises(dataclasses.FrozenInstanceError):
        examples[0].id = "x"


def test_istd_missing_counterpart_is_a_problem_per_file(tmp_path):
    istd_tree(tmp_path)
    (tmp_path / "test/test_C/2.png").unlink()
    examples, problems = list_istd(tmp_path, "test")
    assert [e.id for e in examples] == ["1"]
    assert sorted(p.path for p in problems) == [str(tmp_path / "test/test_A/2.png"),
                                                str(tmp_path / "test/test_B/2.png")]
    assert all("shadow-free image in" in p.problem and "test_C" in p.problem for p in problems)


def test_empty_and_missing_folders(tmp_path):
    istd_tree(tmp_path)
    for f in (tmp_path / "train/train_B").iterdir():
        f.unlink()
    examples, problems = list_istd(tmp_path, "train")
    assert examples == []
    assert str(tmp_path / "train/train_B") + ": empty folder: no image files" in messages(problems)
    (tmp_path / "train/train_B").rmdir()
    with pytest.raises(DataError, match="folder not found") as info:
        list_istd(tmp_path, "train")
    assert info.value.path == str(tmp_path / "train/train_B")
    with pytest.raises(DataError, match="folder not found"):
        list_istd(tmp_path / "nowhere", "test")
    with pytest.raises(UserError, match="split"):
        list_istd(tmp_path, "val")


def test_extensions_case_hidden_files_duplicates_and_non_images(tmp_path):
    put(tmp_path / "shadow" / "a.PNG")
    put(tmp_path / "shadow_free" / "a.JPG")
    put(tmp_path / "shadow" / "b.jpeg")
    put(tmp_path / "shadow" / "b.png")  # two files, one id
    put(tmp_path / "shadow_free" / "b.bmp")
    (tmp_path / "shadow" / ".DS_Store").write_text("x")
    (tmp_path / "shadow" / "notes.txt").write_text("x")
    examples, problems = list_paired(tmp_path, None)
    assert [e.id for e in examples] == ["a"]
    text = "\n".join(messages(problems))
    assert "notes.txt: not an image file" in text
    assert "b.jpeg: same example id 'b' as b.png" in text
    assert "b.bmp: no counterpart" in text
    assert ".DS_Store" not in text


def test_srd_names_and_masks(tmp_path):
    put(tmp_path / "train/shadow/IMG_1.jpg")
    put(tmp_path / "train/shadow_free/IMG_1_no_shadow.jpg")
    put(tmp_path / "train/shadow/IMG_2.jpg")
    put(tmp_path / "train/shadow_free/IMG_2_free.jpg")  # test naming in train: accepted
    put(tmp_path / "test/shadow/_MG_3.jpg")
    put(tmp_path / "test/shadow_free/_MG_3_free.jpg")
    put(tmp_path / "test/shadow/_MG_4.jpg")
    put(tmp_path / "test/shadow_free/_MG_4.jpg")  # plain name
    put(tmp_path / "test/shadow/_MG_5.jpg")
    put(tmp_path / "test/shadow_free/_MG_5_free.jpg")
    put(tmp_path / "test/shadow_free/_MG_5_no_shadow.jpg")  # ambiguous
    examples, problems = list_srd(tmp_path, "train")
    assert problems == []
    assert [(e.id, sorted(e.files)) for e in examples] == [
        ("IMG_1", ["shadow", "shadow_free"]), ("IMG_2", ["shadow", "shadow_free"])]
    assert examples[1].files["shadow_free"].endswith("IMG_2_free.jpg")

    examples, problems = list_srd(tmp_path, "test")
    assert [e.id for e in examples] == ["_MG_3", "_MG_4"]
    assert {p.path.rsplit("/", 1)[1] for p in problems} == {
        "_MG_5_free.jpg", "_MG_5_no_shadow.jpg", "_MG_5.jpg"}

    masks = tmp_path / "detected"
    put(masks / "test" / "_MG_3.png")
    examples, problems = list_srd(tmp_path, "test", mask_dir=masks)
    assert [e.id for e in examples] == ["_MG_3"]
    assert examples[0].files["mask"] == str(masks / "test" / "_MG_3.png")
    assert any(p.path.endswith("_MG_4.jpg") and "missing the mask" in p.problem for p in problems)
    with pytest.raises(DataError, match="folder not found"):
        list_srd(tmp_path, "test", mask_dir=tmp_path / "no_masks")


def test_paired_split_is_seeded_exact_and_order_free(tmp_path):
    ids = [f"img{i:03d}" for i in range(40)]
    for i in ids:
        put(tmp_path / "a" / "shadow" / f"{i}.png", (2, 2))
        put(tmp_path / "a" / "shadow_free" / f"{i}.png", (2, 2))
    for i in reversed(ids):  # another tree, files created in the other order
        put(tmp_path / "b" / "shadow" / f"{i}.png", (2, 2))
        put(tmp_path / "b" / "shadow_free" / f"{i}.png", (2, 2))
    train, problems = list_paired(tmp_path / "a", "train")
    test, _ = list_paired(tmp_path / "a", "test")
    assert problems == []
    assert len(test) == 4 and len(train) == 36
    assert {e.id for e in train} | {e.id for e in test} == set(ids)
    assert not {e.id for e in train} & {e.id for e in test}
    assert [e.id for e in list_paired(tmp_path / "b", "test")[0]] == [e.id for e in test]
    assert "mask" not in test[0].files
    other = list_paired(tmp_path / "a", "test", split_seed=1)[0]
    assert {e.id for e in other} != {e.id for e in test}
    assert list_paired(tmp_path / "a", "test", test_fraction=0.0)[0] == []
    assert len(list_paired(tmp_path / "a", None)[0]) == 40
    # Shuffled input, same answer.
    everything = list_paired(tmp_path / "a", None)[0]
    assert holdout(everything[::-1], "test") == test
    with pytest.raises(UserError):
        list_paired(tmp_path / "a", "test", test_fraction=1.5)


def test_paired_masks_and_custom_folders(tmp_path):
    for i in ("x", "y"):
        put(tmp_path / "in" / f"{i}.png")
        put(tmp_path / "gt" / f"{i}.png")
    put(tmp_path / "m" / "x.png")
    examples, problems = list_paired(tmp_path, None, shadow_dir="in", free_dir="gt", mask_dir="m")
    assert [e.id for e in examples] == ["x"]
    assert examples[0].files["mask"] == str(tmp_path / "m" / "x.png")
    assert len(problems) == 2 and all("missing the mask" in p.problem for p in problems)
    with pytest.raises(DataError, match="folder not found"):
        list_paired(tmp_path, None, shadow_dir="nope")


def test_detection_flat_and_split_layouts(tmp_path):
    flat = tmp_path / "flat"
    for i in range(5):
        put(flat / "images" / f"{i}.jpg")
        put(flat / "masks" / f"{i}.png")
    put(flat / "images" / "lonely.jpg")
    examples, problems = list_detection(flat)
    assert [e.id for e in examples] == ["0", "1", "2", "3", "4"]
    assert sorted(examples[0].files) == ["image", "mask"]
    assert messages(problems) == [f"{flat / 'images' / 'lonely.jpg'}: no counterpart: missing "
                                  f"the mask in {flat / 'masks'}"]
    train, _ = list_detection(flat, "train", test_fraction=0.4)
    test, _ = list_detection(flat, "test", test_fraction=0.4)
    assert len(test) == 2 and len(train) == 3

    split = tmp_path / "split"
    for s, n in (("train", 3), ("test", 2)):
        for i in range(n):
            put(split / s / "images" / f"{s}{i}.jpg")
            put(split / s / "masks" / f"{s}{i}.png")
    assert [e.id for e in list_detection(split, "test")[0]] == ["test0", "test1"]
    assert len(list_source("detection", split, "train")[0]) == 3
    with pytest.raises(UserError, match="name a split"):
        list_detection(split)
    sbu = tmp_path / "sbu"
    put(sbu / "ShadowImages" / "a.jpg")
    put(sbu / "ShadowMasks" / "a.png")
    assert len(list_detection(sbu, image_dir="ShadowImages", mask_dir="ShadowMasks")[0]) == 1


def test_list_source_rejects_unknown_names_and_options(tmp_path):
    istd_tree(tmp_path)
    with pytest.raises(UserError, match="unknown data source 'ist'"):
        list_source("ist", tmp_path, "train")
    with pytest.raises(UserError, match="no option 'mask_dir'"):
        list_source("istd", tmp_path, "train", mask_dir="x")
    examples, _ = list_source("paired_folder", tmp_path / "train", None,
                              shadow_dir="train_A", free_dir="train_C", mask_dir="train_B")
    assert [sorted(e.files) for e in examples] == [["mask", "shadow", "shadow_free"]] * 2
    assert isinstance(examples[0], Example)
