"""The shipped model: `jaxshadow.pretrained.load()`, `predict` without --workdir/--model, its
provenance record, and the message when its file is missing."""

import json

import jax
import numpy as np
import pytest
from PIL import Image

from jaxshadow import cli, pretrained
from jaxshadow.errors import UserError

from tests.test_real_photos import REAL


def test_load_gives_a_pure_mask_free_remover():
    model, variables, config = pretrained.load()
    assert config.task == "removal" and config.model.name == "joint"
    assert not config.data.mask_input and config.predict_size > 0
    x = jax.random.uniform(jax.random.key(0), (2, 64, 96, 3))
    out = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
    assert out["shadow_free"].shape == (2, 64, 96, 3) and out["mask_logits"].shape == (2, 64, 96, 1)
    np.testing.assert_allclose(out["shadow_free"], x * out["gain"] + out["offset"], atol=1e-5)


def test_provenance_records_how_it_was_made():
    record = json.loads(pretrained.PROVENANCE_FILE.read_text())
    for key in ("command", "export_command", "commit", "steps", "data", "wall_time_s",
                "machine", "licences"):
        assert key in record, key
    trained = pretrained.load_trained()
    assert record["steps"] == trained.step
    assert record["config"] == "configs/finetune_veil_balanced.py"
    assert record["stage_one"]["config"] == "configs/pretrain_photos.py"
    assert record["total_steps"] == record["stage_one"]["steps"] + record["steps"]


def test_the_recorded_config_is_the_shipped_models():
    from jaxshadow import config as config_lib

    record = json.loads(pretrained.PROVENANCE_FILE.read_text())
    recorded = json.loads(config_lib.to_json(config_lib.load(record["config"])))
    shipped = json.loads(config_lib.to_json(pretrained.load()[2]))
    for config in (recorded, shipped):
        config["checkpoint"].pop("init_from")  # where stage one was read from
    assert recorded == shipped


def test_predict_without_a_model_uses_the_shipped_one(tmp_path, capsys):
    photo = REAL / "istd" / "114-5_shadow.png"
    out = tmp_path / "out"
    assert cli.main(["predict", "--out", str(out), str(photo)]) == 0
    assert "wrote 1 images" in capsys.readouterr().out
    with Image.open(out / "114-5_shadow.png") as free, Image.open(photo) as given:
        assert free.size == given.size
    with Image.open(out / "114-5_shadow_mask.png") as mask:
        assert mask.size == (640, 480)


def test_a_missing_shipped_model_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "MODEL_FILE", tmp_path / "gone.msgpack")
    with pytest.raises(UserError, match="configs/pretrain_photos.py"):
        pretrained.load()
    photo = REAL / "istd" / "114-5_shadow.png"
    assert cli.main(["predict", "--out", str(tmp_path / "o"), str(photo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gone.msgpack is missing" in err[0]


def test_benchmarks_real_reports_the_shipped_models_figures(small_real, tmp_path, capsys):
    from benchmarks.__main__ import main

    main(["real", "--data", str(small_real), "--json", str(tmp_path / "real.json"),
          "--grid", str(tmp_path / "grid.png"), "--guided-grid", str(tmp_path / "guided.png")])
    out = capsys.readouterr().out
    assert "target >= 30 %" in out and "BER" in out
    result = json.loads((tmp_path / "real.json").read_text())
    assert result["size"] == pretrained.load()[2].predict_size
    assert result["detection"]["photos"] == 4
    istd = result["istd"]
    assert istd["input"]["lab_shadow"] > istd["input"]["lab_non_shadow"]
    assert istd["true_mask"] is not None  # the shipped model is `joint`
    assert istd["rough_mask"] is not None
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.mode == "RGB" and grid.size[1] >= 2 * 160
    with Image.open(tmp_path / "guided.png") as guided:  # five 640x480 panels at 180 rows
        assert guided.mode == "RGB" and guided.size == (5 * 240, 180)


def test_predict_takes_one_model_source(tmp_path, capsys):
    photo = REAL / "istd" / "114-5_shadow.png"
    assert cli.main(["predict", "--workdir", str(tmp_path), "--model", str(tmp_path / "m"),
                     "--out", str(tmp_path / "o"), str(photo)]) == 2
    assert "not both" in capsys.readouterr().err
