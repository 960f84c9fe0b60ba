"""Folder sets larger than memory: `FolderStream` decodes per read and equals the in-memory
source; over `data.max_in_memory_gb` a set is prepared once, reused, and re-prepared when a file
changes."""

import os

import numpy as np
import pytest
from PIL import Image

from jaxshadow import config as config_lib
from jaxshadow.cli import main
from jaxshadow.data.folder_source import load_folder_source
from jaxshadow.data.folder_stream import FolderStream, estimate_decoded_bytes
from jaxshadow.data.pipeline import train_batches
from jaxshadow.data.prepared_source import PreparedSource
from jaxshadow.data.sources import make_source
from jaxshadow.errors import UserError
from tests.helpers import write_istd


def _assert_same_rows(a, b):
    for split in ("train", "test"):
        assert a.num_examples(split) == b.num_examples(split)
        assert a.element_spec(split) == b.element_spec(split)
        for i in range(a.num_examples(split)):
            x, y = a.read(split, i), b.read(split, i)
            assert sorted(x) == sorted(y)
            for key in x:
                np.testing.assert_array_equal(x[key], y[key])


@pytest.mark.parametrize("name", ["istd", "istd_plus"])
def test_stream_yields_the_rows_of_the_in_memory_source(tmp_path, name):
    write_istd(tmp_path, ids=("1", "2", "3", "4", "5"))
    _assert_same_rows(FolderStream(name, tmp_path), load_folder_source(name, tmp_path))
    # 5 train + 5 test examples of 40x48, shadow (3) + mask (1) + shadow-free (3) channels
    assert estimate_decoded_bytes(name, tmp_path) == 10 * 40 * 48 * 7


def test_stream_stops_on_a_bad_file_or_skips_it_like_the_in_memory_source(tmp_path):
    write_istd(tmp_path)
    bad = tmp_path / "train" / "train_A" / "2.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(UserError, match="2.png") as streamed:
        FolderStream("istd", tmp_path)
    with pytest.raises(UserError) as loaded:
        load_folder_source("istd", tmp_path)
    assert str(streamed.value) == str(loaded.value)
    stream = FolderStream("istd", tmp_path, skip_bad_examples=True)
    assert stream.num_examples("train") == 3
    _assert_same_rows(stream, load_folder_source("istd", tmp_path, skip_bad_examples=True))


def _data_config(tmp_path, source, budget_gb):
    c = config_lib.defaults().data
    c.source = source
    c.max_in_memory_gb = budget_gb
    c.prepared_dir = str(tmp_path / "cache")
    return c


def test_a_set_over_the_memory_budget_is_prepared_once_and_streamed(tmp_path, capsys):
    root = tmp_path / "ISTD"
    write_istd(root)
    in_memory = make_source(_data_config(tmp_path, f"istd:{root}", 4.0))
    assert not isinstance(in_memory, PreparedSource)
    assert not (tmp_path / "cache").exists()

    streamed = make_source(_data_config(tmp_path, f"istd:{root}", 1e-6))
    assert isinstance(streamed, PreparedSource)
    message = capsys.readouterr().err
    assert "over data.max_in_memory_gb=1e-06; streaming it from prepared shards" in message
    _assert_same_rows(streamed, in_memory)
    kw = dict(seed=1, batch_size=4, start_step=0, num_steps=5, reader="numpy")
    for x, y in zip(train_batches(streamed, "train", **kw), train_batches(in_memory, "train", **kw)):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])

    shards = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.array_record")}
    again = make_source(_data_config(tmp_path, f"istd:{root}", 1e-6))
    assert again.path == streamed.path  # reused, not prepared again
    assert {p: p.stat().st_mtime_ns for p in shards} == shards
    assert "written" not in capsys.readouterr().err

    changed = root / "train" / "train_C" / "1.png"
    Image.fromarray(np.full((40, 48, 3), 7, np.uint8)).save(changed)
    os.utime(changed, ns=(1, 1))
    fresh = make_source(_data_config(tmp_path, f"istd:{root}", 1e-6))
    assert fresh.path != streamed.path
    assert int(fresh.read("train", 0)["shadow_free"].max()) == 7


@pytest.mark.parametrize("budget_gb", [4.0, 1e-6])
def test_opening_a_folder_set_lists_each_split_once(tmp_path, monkeypatch, budget_gb):
    """In memory or prepared from a stream: one listing per split, shared by the size
    estimate, the file check, the loader and the prepared copy's fingerprint."""
    from jaxshadow.data import layouts

    root = tmp_path / "ISTD"
    write_istd(root)
    calls = []
    lister = layouts.LISTERS["istd"]

    def counting(root, split):
        calls.append(split)
        return lister(root, split)

    monkeypatch.setitem(layouts.LISTERS, "istd", counting)
    source = make_source(_data_config(tmp_path, f"istd:{root}", budget_gb))
    assert source.num_examples("train") == 4
    assert sorted(calls) == ["test", "train"]


def test_cli_prepares_a_folder_set_without_loading_it(tmp_path, capsys):
    root = tmp_path / "ISTD"
    write_istd(root)
    out = tmp_path / "prepared"
    assert main(["data", "prepare", f"istd_plus:{root}", "--out", str(out)]) == 0
    _assert_same_rows(PreparedSource(out), load_folder_source("istd_plus", root))
    bad = root / "test" / "test_B" / "3.png"
    bad.write_bytes(b"not a png")
    assert main(["data", "prepare", f"istd:{root}", "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "3.png" in err and "Traceback" not in err
    assert not (tmp_path / "other").exists()
