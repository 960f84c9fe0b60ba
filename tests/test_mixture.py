"""`data.source = "mixture"`: weights exact per epoch, real pairs keep their shadows, rendered
rows get rendered ones, and a mixed run trains and evaluates end to end."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxshadow import cli
from jaxshadow.config import defaults
from jaxshadow.data import make_source
from jaxshadow.data.pipeline import step_indices
from jaxshadow.errors import UserError
from jaxshadow.tasks.removal import RemovalTask
from tests.helpers import write_paired, write_photos

ROOT = Path(__file__).resolve().parents[1]


def _mixture(tmp_path, weights=(0.75, 0.25)):
    data = defaults().data
    data.source = "mixture"
    data.mixture = ((f"photos:{write_photos(tmp_path / 'photos')}", weights[0]),
                    (f"paired:{write_paired(tmp_path / 'pairs', size=(48, 64))}", weights[1]))
    data.photo_size = 64
    data.photo_scales = (1.0,)
    data.test_fraction = 0.3
    data.mix_size = 48
    return data


def test_weights_are_exact_per_epoch_and_rows_are_marked(tmp_path):
    source = make_source(_mixture(tmp_path))
    n = source.num_examples("train")
    epoch = step_indices(0, 0, n, n)  # one epoch, as the pipeline orders it
    parts = np.array([source.part_of("train", i)[0] for i in epoch])
    assert abs(np.mean(parts == 0) - 0.75) < 0.05
    for i in range(n):
        row = source.read("train", i)
        assert row["shadow_free"].shape == (48, 48, 3) and row["mask"].shape == (48, 48, 1)
        k, _ = source.part_of("train", i)
        if k == 0:  # a photo: its shadow is rendered by the task
            assert row["rendered"] == 1 and not row["mask"].any()
            np.testing.assert_array_equal(row["shadow"], row["shadow_free"])
        else:       # a real pair keeps its shadow and mask
            assert row["rendered"] == 0 and row["mask"].any()
            assert (row["shadow"] <= row["shadow_free"]).all() and (row["shadow"] != row["shadow_free"]).any()


def test_prepare_renders_only_the_rendered_rows(tmp_path):
    source = make_source(_mixture(tmp_path))
    rows = [source.read("train", i) for i in range(source.num_examples("train"))]
    batch = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    task = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), flip=False,
                       dead_leaves=1.0)
    out = task.prepare(batch, jax.random.key(0), train=True)
    paired = batch["rendered"] == 0
    given = batch["shadow"][paired].astype(np.float32) / 255.0
    np.testing.assert_allclose(np.asarray(out["shadow"])[paired], given, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["shadow_free"])[paired],
                               batch["shadow_free"][paired] / 255.0, atol=1e-6)  # no dead leaves
    assert np.asarray(out["mask"])[~paired].max() > 0.5  # rendered shadows on the photos


def test_bad_mixtures_are_one_line_errors(tmp_path):
    data = _mixture(tmp_path)
    data.mixture = ((data.mixture[0][0], 0.0),)
    with pytest.raises(UserError, match="weights must be > 0"):
        make_source(data)
    data.mixture = (("digits", 1.0),)
    with pytest.raises(UserError, match="'digits' is a classification source"):
        make_source(data)
    data.mixture = ()
    with pytest.raises(UserError, match="data.mixture is empty"):
        make_source(data)


def test_a_mixed_run_trains_and_evaluates(tmp_path):
    data = _mixture(tmp_path)
    workdir = tmp_path / "run"
    args = ["train", "--config", str(ROOT / "configs" / "pretrain_photos.py"),
            "--workdir", str(workdir), "--config.data.source=mixture",
            f"--config.data.mixture={tuple(tuple(e) for e in data.mixture)!r}",
            "--config.data.photo_size=64", "--config.data.photo_scales=(1.0,)",
            "--config.data.mix_size=48", "--config.data.crop=32", "--config.data.test_fraction=0.3",
            "--config.model.detector_features=(8, 16)", "--config.model.remover_features=(8, 16)",
            "--config.steps=2", "--config.batch_size=4", "--config.eval_batch_size=4",
            "--config.log_every=1", "--config.eval_every=2", "--config.checkpoint_every=2",
            "--config.data.reader=numpy", "--config.num_devices=2"]
    assert cli.main(args) == 0
    records = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
    final = [r for r in records if "eval_lab_shadow" in r][-1]
    assert final["eval_input_lab_shadow"] > final["eval_input_lab_non_shadow"]
