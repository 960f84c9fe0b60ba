"""The `photos:PATH` source: any folder of photos, bad files reported by name, views, splits,
determinism across readers and instances, a broken file's views served by the next photo."""

import numpy as np
import pytest
from PIL import Image

from jaxshadow.data import make_source
from jaxshadow.data.photos_source import PhotoSource, _views
from jaxshadow.data.pipeline import train_batches
from jaxshadow.data.tf_setup import tensorflow_available
from jaxshadow.errors import UserError
from tests.helpers import digits_config


def _photo(h, w, seed=0):
    """A smooth random RGB photo, uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (h // 16 + 1, w // 16 + 1, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))


def _folder(tmp_path, count=6, size=(120, 160)):
    for i in range(count):
        sub = tmp_path / ("a" if i % 2 else "b") / "deeper"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_photo(*size, seed=i)).save(sub / f"p{i}.jpg", quality=95)
    return tmp_path


def test_bad_files_are_reported_by_name_and_odd_modes_converted(tmp_path, capsys):
    _folder(tmp_path, count=3)
    odd = tmp_path / "odd"
    odd.mkdir()
    Image.fromarray(_photo(100, 100, 7)).convert("L").save(odd / "gray.png")
    Image.fromarray(_photo(100, 100, 8)).convert("CMYK").save(odd / "cmyk.jpg")
    sixteen = (np.random.default_rng(0).integers(0, 65535, (100, 100))).astype(np.uint16)
    Image.fromarray(sixteen).save(odd / "deep.png")
    Image.fromarray(_photo(40, 90)).save(odd / "tiny.png")
    (odd / "corrupt.jpg").write_bytes(b"not an image at all")
    Image.new("L", (8000, 6500)).save(odd / "huge.png")  # 52 MP, solid: a small file

    source = PhotoSource([tmp_path], size=64, scales=(1.0,), test_fraction=0.3)
    err = capsys.readouterr().err
    names = sorted(str(e.path).rsplit("/", 1)[-1] for e in source.problems)
    assert names == ["corrupt.jpg", "huge.png", "tiny.png"]
    for name in ("corrupt.jpg", "huge.png", "tiny.png"):
        assert name in err
    assert "too small" in err and "52 MP" in err
    kept = [str(p) for split in ("train", "test") for p, _, _ in source._photos[split]]
    assert sum(n.endswith(("gray.png", "cmyk.jpg", "deep.png")) for n in kept) == 3
    for split in ("train", "test"):
        for i in range(source.num_examples(split)):
            view = source.read(split, i)["shadow_free"]
            assert view.shape == (64, 64, 3) and view.dtype == np.uint8


def test_missing_or_empty_folder_is_one_line_error(tmp_path):
    with pytest.raises(UserError, match="folder not found: .*nowhere"):
        PhotoSource([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    with pytest.raises(UserError, match=r"no image files .* in .*empty"):
        PhotoSource([tmp_path / "empty"])


def test_views_cover_each_scale():
    # 120x160 photo, size 64: scale 1 -> 64x85 (1x1 views), 2 -> 128x171 (2x2), 3 -> 192x256
    # (3x4); the last view of each axis ends at the image's edge.
    views = _views([("p", 120, 160)], 64, (1.0, 2.0, 3.0))
    assert len(views) == 1 + 4 + 12
    assert {v[1] for v in views} == {64, 128, 192}
    assert max(v[3] for v in views if v[1] == 192) == 256 - 64


def test_sizes_of_one_picture_are_kept_once(tmp_path):
    Image.fromarray(_photo(100, 160, 1)).save(tmp_path / "wall_1280x800.jpg")
    Image.fromarray(_photo(200, 320, 1)).save(tmp_path / "wall_2560x1600.jpg")
    _folder(tmp_path / "others", count=2)
    source = PhotoSource([tmp_path], size=64, scales=(1.0,))
    walls = [p for s in ("train", "test") for p, _, _ in source._photos[s] if "wall" in p.name]
    assert [p.name for p in walls] == ["wall_2560x1600.jpg"]


def test_a_pictures_sizes_preview_and_variants_stay_on_one_side_of_the_split(tmp_path):
    # KDE Plasma packages: contents/images/<size>, a smaller contents/screenshot preview of the
    # same picture, a dark version in contents/images_dark/; GNOME's: name-l / name-d
    for i in range(12):
        contents = tmp_path / "wallpapers" / f"Pack{i}" / "contents"
        for sub, shape in (("images/1280x800", (70, 112)), ("images/2560x1600", (100, 160)),
                           ("screenshot", (64, 80)), ("images_dark/2560x1600", (100, 160))):
            (contents / sub).parent.mkdir(parents=True, exist_ok=True)
            seed = 100 + i if "dark" in sub else i
            Image.fromarray(_photo(*shape, seed)).save(contents / f"{sub}.jpg")
        for mark in ("l", "d"):
            (tmp_path / "gnome").mkdir(exist_ok=True)
            Image.fromarray(_photo(80, 128, 200 + i)).save(tmp_path / "gnome" / f"g{i}-{mark}.png")
    source = PhotoSource([tmp_path], size=64, scales=(1.0,), test_fraction=0.3)
    sides = {s: [str(p.relative_to(tmp_path)) for p, _, _ in source._photos[s]]
             for s in ("train", "test")}
    kept = sides["train"] + sides["test"]
    assert not any("screenshot" in p or "1280x800" in p for p in kept)  # one size of each
    assert len(kept) == 12 * 2 + 12 * 2  # light and dark, l and d: distinct pictures
    assert sides["train"] and sides["test"]
    for i in range(12):
        light, dark = (f"wallpapers/Pack{i}/contents/{d}/2560x1600.jpg"
                       for d in ("images", "images_dark"))
        assert (light in sides["test"]) == (dark in sides["test"])
        assert (f"gnome/g{i}-l.png" in sides["test"]) == (f"gnome/g{i}-d.png" in sides["test"])


def test_reads_are_deterministic_across_instances_and_cache_sizes(tmp_path):
    _folder(tmp_path)
    a = PhotoSource([tmp_path], size=64, scales=(1.0, 2.0), cache_gb=1.0)
    b = PhotoSource([tmp_path], size=64, scales=(1.0, 2.0), cache_gb=0.0)  # no cache at all
    assert a.num_examples("train") == b.num_examples("train") > a.num_photos("train")
    order = np.random.default_rng(0).permutation(a.num_examples("train"))
    for i in order:
        np.testing.assert_array_equal(a.read("train", i)["shadow_free"],
                                      b.read("train", i)["shadow_free"])


@pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed: the tf.data "
                                                       "reader is not part of this install")
def test_numpy_and_tf_readers_give_identical_batches(tmp_path):
    _folder(tmp_path)
    source = PhotoSource([tmp_path], size=64, scales=(1.0, 2.0))
    kw = dict(seed=3, batch_size=4, start_step=2, num_steps=6)
    for x, y in zip(train_batches(source, "train", reader="numpy", **kw),
                    train_batches(source, "train", reader="tf", **kw)):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])


def test_broken_data_behind_a_good_header_is_replaced_by_the_next_photo(tmp_path, capsys):
    _folder(tmp_path, count=4)
    source = PhotoSource([tmp_path], size=64, scales=(1.0,), test_fraction=0.01)
    victim = source._photos["train"][0][0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])  # the header survives, the pixels do not
    index = next(i for i, v in enumerate(source._views["train"]) if v[0] == 0)
    first = source.read("train", index)["shadow_free"]
    again = source.read("train", index)["shadow_free"]
    np.testing.assert_array_equal(first, again)
    substitute = source.read("train", next(i for i, v in enumerate(source._views["train"])
                                           if v[0] == 1))["shadow_free"]
    np.testing.assert_array_equal(first, substitute)  # the next photo's view
    assert capsys.readouterr().err.count(victim.name) == 1  # reported once


def test_make_source_takes_several_folders_and_the_config_options(tmp_path):
    _folder(tmp_path / "x", count=3)
    _folder(tmp_path / "y", count=3, size=(90, 90))
    config = digits_config()
    config.data.source = f"photos:{tmp_path / 'x'},{tmp_path / 'y'}"
    config.data.photo_size = 80
    config.data.photo_scales = (1.0, 1.5)
    source = make_source(config.data)
    assert source.renders_shadows and source.task == "removal"
    assert source.num_photos("train") + source.num_photos("test") == 6
    assert source.element_spec("train")["shadow_free"][0] == (80, 80, 3)
    config.data.photo_size = 32
    with pytest.raises(UserError, match="photo_size must be at least 64"):
        make_source(config.data)


def test_data_check_lists_every_bad_photo_and_fails(tmp_path, capsys):
    from jaxshadow import cli

    _folder(tmp_path, count=3)
    good = sorted(tmp_path.rglob("*.jpg"))
    data = good[0].read_bytes()
    good[0].write_bytes(data[: len(data) // 3])  # good header, broken pixels
    Image.fromarray(_photo(40, 90)).save(tmp_path / "tiny.png")
    assert cli.main(["data", "check", f"photos:{tmp_path}"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out and "all: 4 examples, 2 with problems" in out
    assert good[0].name in out and "tiny.png" in out and "too small" in out
    good[0].unlink()
    (tmp_path / "tiny.png").unlink()
    assert cli.main(["data", "check", f"photos:{tmp_path}"]) == 0
    assert "160x120: 2" in capsys.readouterr().out


def test_a_folder_over_the_memory_budget_is_streamed_from_a_prepared_copy(tmp_path, capsys):
    from jaxshadow.data.prepared_source import PreparedSource

    _folder(tmp_path / "photos", count=4)
    config = digits_config()
    config.data.source = f"photos:{tmp_path / 'photos'}"
    config.data.photo_size = 64
    config.data.photo_scales = (1.0, 2.0)
    config.data.prepared_dir = str(tmp_path / "cache")
    in_memory = make_source(config.data)
    config.data.max_in_memory_gb = 1e-6
    prepared = make_source(config.data)
    assert isinstance(prepared, PreparedSource)
    assert "streaming it from prepared shards" in capsys.readouterr().err
    assert prepared.renders_shadows and prepared.task == "removal"
    for split in ("train", "test"):
        assert prepared.num_examples(split) == in_memory.num_examples(split)
        assert prepared.element_spec(split) == in_memory.element_spec(split)
        for i in range(in_memory.num_examples(split)):
            want, got = in_memory.read(split, i), prepared.read(split, i)
            assert want.keys() == got.keys()
            for k in want:
                np.testing.assert_array_equal(got[k], want[k])
