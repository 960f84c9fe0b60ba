"""Prepared sets: `data prepare` writes ArrayRecord shards that every reader streams identically;
an interrupted preparation (kill -9 included) resumes; damaged sets are named in one line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from jaxshadow.cli import main
from jaxshadow.data import prepared_format as fmt
from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.pipeline import train_batches
from jaxshadow.data.prepare import prepare
from jaxshadow.data.prepared_source import PreparedSource
from jaxshadow.data.tf_setup import tensorflow_available
from jaxshadow.errors import UserError


def _source(n=37):
    rng = np.random.default_rng(0)
    split = lambda m: {"shadow_free": rng.integers(0, 256, (m, 12, 10, 3), dtype=np.uint8),  # noqa: E731
                       "mask": rng.integers(0, 2, (m, 12, 10, 1), dtype=np.uint8) * 255,
                       "index": np.arange(m, dtype=np.int32)}
    return ArraySource("fixture", {"train": split(n), "test": split(5)}, task="removal",
                       renders_shadows=True)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "set"
    prepare(_source(), out, source_spec="fixture", shards=3, progress=lambda _: None)
    return out


def _batches(source, reader, start=0, stop=9, **kw):
    return list(train_batches(source, "train", seed=5, batch_size=8, start_step=start,
                              num_steps=stop, reader=reader, **kw))


def _assert_same(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert sorted(x) == sorted(y)
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


def test_examples_round_trip_with_their_spec(prepared):
    source, original = PreparedSource(prepared), _source()
    assert source.task == "removal" and source.renders_shadows
    for split in ("train", "test"):
        assert source.num_examples(split) == original.num_examples(split)
        assert source.element_spec(split) == original.element_spec(split)
        for i in range(original.num_examples(split)):
            got, want = source.read(split, i), original.read(split, i)
            for key in want:
                np.testing.assert_array_equal(got[key], want[key])
    index = json.loads((prepared / fmt.INDEX).read_text())
    assert [s["num_examples"] for s in index["splits"]["train"]["shards"]] == [12, 12, 13]


@pytest.mark.parametrize("reader,workers", [("numpy", 0), ("grain", 0), ("grain", 1)])
def test_every_reader_gives_the_in_memory_batches(prepared, reader, workers):
    want = _batches(_source(), "numpy")
    _assert_same(_batches(PreparedSource(prepared), reader, workers=workers), want)


@pytest.mark.skipif(not tensorflow_available(),
                    reason="the tf.data reader needs TensorFlow (pip install -e '.[tf]')")
def test_tf_reader_gives_the_in_memory_batches(prepared):
    _assert_same(_batches(PreparedSource(prepared), "tf"), _batches(_source(), "numpy"))


def test_auto_reader_is_grain_and_a_restarted_stream_continues_exactly(prepared):
    source = PreparedSource(prepared)
    full = _batches(source, "auto")
    _assert_same(_batches(source, "auto", start=4), full[4:])
    _assert_same(full, _batches(_source(), "numpy"))


class _Failing(ArraySource):
    """The fixture source, failing at example `fail_at` of the train split (an interruption)."""

    fail_at = None

    def read(self, split, index):
        if split == "train" and index == self.fail_at:
            raise KeyboardInterrupt
        return super().read(split, index)


def test_interrupted_prepare_resumes_without_rewriting_finished_shards(tmp_path, prepared):
    base = _source()
    failing = _Failing(base.name, base.splits, task="removal", renders_shadows=True)
    failing.fail_at = 30  # in the third train shard
    out = tmp_path / "set"
    with pytest.raises(KeyboardInterrupt):
        prepare(failing, out, source_spec="fixture", shards=3, progress=lambda _: None)
    assert not (out / fmt.INDEX).exists()
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("*.array_record")}
    assert sorted(finished) == ["train-00000-of-00003.array_record",
                                "train-00001-of-00003.array_record"]
    assert not list(out.glob(".*.tmp"))  # the shard in progress is not left half-written
    with pytest.raises(UserError, match="unfinished preparation"):
        PreparedSource(out)
    failing.fail_at = None
    prepare(failing, out, source_spec="fixture", shards=3, progress=lambda _: None)
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime
    assert not (out / fmt.PARTIAL).exists()
    want = json.loads((prepared / fmt.INDEX).read_text())["splits"]
    assert json.loads((out / fmt.INDEX).read_text())["splits"] == want


_SLOW_PREPARE = """
import sys, time
import numpy as np
from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.prepare import prepare

class Slow(ArraySource):
    def read(self, split, index):
        if split == "train" and index >= 20:
            time.sleep(0.5)
        return super().read(split, index)

rng = np.random.default_rng(1)
rows = lambda n: {"image": rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
                  "label": np.arange(n, dtype=np.int32)}
source = Slow("slow", {"train": rows(40), "test": rows(4)}, num_classes=40)
prepare(source, sys.argv[1], source_spec="slow", shards=4, workers=1)
"""


def test_prepare_survives_kill_9_and_a_rerun(tmp_path):
    script = tmp_path / "slow_prepare.py"
    script.write_text(textwrap.dedent(_SLOW_PREPARE))
    out = tmp_path / "set"
    child = subprocess.Popen([sys.executable, str(script), str(out)])
    marker = out / fmt.PARTIAL / "train-00001-of-00004.array_record.json"
    deadline = time.time() + 120
    while not marker.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child never finished its second shard"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (out / fmt.INDEX).exists()
    # The rerun, in the same way a user would: the same command again.
    code = subprocess.run([sys.executable, str(script), str(out)], timeout=300).returncode
    assert code == 0
    source = PreparedSource(out)
    assert source.num_examples("train") == 40 and source.num_examples("test") == 4
    labels = [int(source.read("train", i)["label"]) for i in range(40)]
    assert labels == list(range(40))


def _damage(prepared, tmp_path, how):
    import shutil

    out = tmp_path / "set"
    shutil.copytree(prepared, out)
    shard = out / "train-00001-of-00003.array_record"
    if how == "flip":
        data = bytearray(shard.read_bytes())
        data[len(data) // 2] ^= 0xFF
        shard.write_bytes(bytes(data))
    elif how == "truncate":
        shard.write_bytes(shard.read_bytes()[:-100])
    elif how == "delete":
        shard.unlink()
    elif how == "index":
        index = json.loads((out / fmt.INDEX).read_text())
        index["splits"]["train"]["num_examples"] += 1
        (out / fmt.INDEX).write_text(json.dumps(index))
    return out, shard


@pytest.mark.parametrize("how,message", [
    ("flip", "train-00001-of-00003.array_record: checksum mismatch"),
    ("truncate", "train-00001-of-00003.array_record: .* bytes, the index records"),
    ("delete", "train-00001-of-00003.array_record: shard missing"),
    ("index", "index.json: split 'train' lists 38 examples but its shards hold 37"),
])
def test_a_damaged_set_is_named_in_one_line_and_left_in_place(prepared, tmp_path, capsys, how,
                                                             message):
    out, shard = _damage(prepared, tmp_path, how)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(UserError, match=message):
        PreparedSource(out)
    assert sorted(p.name for p in out.iterdir()) == before
    config = tmp_path / "c.py"
    config.write_text("from jaxshadow.config import defaults\n"
                      "def get_config():\n    c = defaults()\n    c.task = 'removal'\n"
                      f"    c.data.source = 'prepared:{out}'\n    return c\n")
    code = main(["train", "--config", str(config), "--workdir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(out) in err


def test_checksums_can_be_left_unverified_on_open(prepared, tmp_path):
    """A flipped record byte keeps the shard's size and record count: only the SHA-256 sees
    it (the reader's own chunk hashes, when the record is read)."""
    import shutil

    from jaxshadow.config import defaults
    from jaxshadow.data.sources import make_source

    out = tmp_path / "set"
    shutil.copytree(prepared, out)
    shard = out / "train-00001-of-00003.array_record"
    data = bytearray(shard.read_bytes())
    data[200] ^= 0xFF  # inside the first chunk's records
    shard.write_bytes(bytes(data))
    data = defaults().data
    data.source = f"prepared:{out}"
    with pytest.raises(UserError, match="checksum mismatch"):
        make_source(data)
    data.verify_checksums = False
    assert make_source(data).num_examples("train") == 37


def test_not_a_prepared_set(tmp_path):
    with pytest.raises(UserError, match="not found"):
        PreparedSource(tmp_path / "missing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="is not a prepared set"):
        PreparedSource(tmp_path / "other")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / fmt.INDEX).write_text("{not json")
    with pytest.raises(UserError, match="index.json: not readable as JSON"):
        PreparedSource(tmp_path / "bad")


def test_prepare_never_writes_into_a_finished_set_or_a_foreign_folder(prepared, tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in prepared.iterdir()}
    with pytest.raises(UserError, match="already a prepared set"):
        prepare(_source(), prepared, source_spec="fixture", shards=3)
    assert {p.name: p.stat().st_mtime_ns for p in prepared.iterdir()} == before
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="is not empty and is not a prepared set"):
        prepare(_source(), foreign, source_spec="fixture")
    assert [p.name for p in foreign.iterdir()] == ["a.jpg"]


def test_cli_prepares_a_source_and_trains_on_it(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["data", "prepare", "digits", "--out", str(out), "--shards", "2"]) == 0
    assert "train on it with --config.data.source=prepared:" in capsys.readouterr().out
    assert main(["data", "prepare", "digits", "--out", str(out)]) == 2
    assert "already a prepared set" in capsys.readouterr().err
    from jaxshadow.data.digits import load_digits

    digits, source = load_digits(), PreparedSource(out)
    _assert_same(_batches(source, "grain"), _batches(digits, "numpy"))
    results = {}
    for name in (f"prepared:{out}", "digits"):  # the same batches: the same run, to the bit
        config = tmp_path / "c.py"
        config.write_text("from jaxshadow.config import defaults\n"
                          "def get_config():\n    c = defaults()\n"
                          f"    c.data.source = '{name}'\n    c.model.name = 'cnn_tiny'\n"
                          "    c.steps = 3\n    c.batch_size = 16\n    c.eval_every = 3\n"
                          "    c.log_every = 1\n    c.checkpoint_every = 3\n    return c\n")
        workdir = tmp_path / f"run-{len(results)}"
        assert main(["train", "--config", str(config), "--workdir", str(workdir)]) == 0
        results[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert results[f"prepared:{out}"] == results["digits"]
    assert set(results["digits"]) == {"eval_accuracy", "eval_loss"}


def test_reading_memory_stays_flat_in_the_set_size(tmp_path):
    from benchmarks.prepared_input import prepare_generated, read_in_child

    sizes, side = (200, 2000), 256
    for n in sizes:
        prepare_generated(tmp_path / f"set-{n}", n, side)
    decoded_mb = sizes[1] * side * side * 3 / 2**20  # the larger set, decoded: 375 MiB
    prepared = [read_in_child(tmp_path / f"set-{n}", reader="grain")["rss_mb"] for n in sizes]
    in_memory = [read_in_child(tmp_path / f"set-{n}", reader="numpy", in_memory=True)["rss_mb"]
                 for n in sizes]
    # The measurement sees a set held in memory ...
    assert in_memory[1] - in_memory[0] > 0.5 * decoded_mb * (1 - sizes[0] / sizes[1])
    # ... and streaming from shards holds none of it.
    assert prepared[1] - prepared[0] < 0.1 * decoded_mb, (prepared, in_memory)


def test_a_prepared_set_of_another_task_than_the_config_is_named(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["data", "prepare", "digits", "--out", str(out), "--shards", "1"]) == 0
    config = tmp_path / "c.py"
    config.write_text("from jaxshadow.config import defaults\n"
                      "def get_config():\n    c = defaults()\n    c.task = 'removal'\n"
                      f"    c.model.name = 'unet'\n    c.data.source = 'prepared:{out}'\n"
                      "    return c\n")
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--workdir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"prepared:{out}" in err
    assert "classification dataset but task is 'removal'" in err
    assert (out / fmt.INDEX).exists()
