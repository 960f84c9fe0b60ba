"""A detector trained alone on rendered shadows (`task=detection` on `photos:`), and
`jaxshadow export --detector`: a joint model whose detector is replaced by it."""

import jax
import numpy as np
import pytest

from jaxshadow import cli
from jaxshadow import config as config_lib
from jaxshadow.data.sources import make_source
from jaxshadow.errors import UserError
from jaxshadow.export import export_model, load_exported
from jaxshadow.tasks import make_task
from jaxshadow.tasks.detection import DetectionTask
from jaxshadow.tasks.removal import RemovalTask

from helpers import metrics_records, write_photos


def _batch(n=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return {"shadow_free": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
            "index": np.arange(n, dtype=np.int32), "valid": np.ones(n, np.float32)}


@pytest.mark.parametrize("train", [True, False])
def test_detection_on_rendered_shadows_sees_the_removal_tasks_shadows(train):
    options = dict(crop=16, flip=True, rot90=True, color_augment=True, dead_leaves=0.5)
    detection = DetectionTask(render_shadows=True, **options)
    removal = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), **options)
    key = jax.random.key(7)
    batch = _batch()
    got = detection.prepare(batch, key, train)
    want = removal.prepare(batch, key, train)
    np.testing.assert_array_equal(got["input"], want["shadow"])
    np.testing.assert_array_equal(got["mask"], want["mask"])
    size = 16 if train else 32
    assert got["input"].shape == (3, size, size, 3) and got["mask"].shape == (3, size, size, 1)
    mask = np.asarray(got["mask"])
    assert mask.min() >= 0 and mask.max() == 1.0 and 0 < mask.mean() < 1
    # shadows darken: where the mask is 0 the input is the (augmented) shadow-free image
    assert np.all(np.asarray(got["input"]) <= np.asarray(want["shadow_free"]) + 1e-6)


def test_rendered_evaluation_shadows_are_fixed_by_the_example_index():
    task = DetectionTask(render_shadows=True, eval_seed=5)
    batch = _batch(n=4)
    a = task.prepare(batch, jax.random.key(0), train=False)
    b = task.prepare(batch, jax.random.key(1), train=False)
    np.testing.assert_array_equal(a["mask"], b["mask"])
    swapped = {k: v[::-1] for k, v in batch.items()}
    c = task.prepare(swapped, jax.random.key(0), train=False)
    np.testing.assert_array_equal(np.asarray(c["mask"])[::-1], a["mask"])


def test_make_task_builds_rendered_detection_for_a_photos_source(tmp_path):
    config = config_lib.load("configs/photos_detector.py")
    config.data.source = f"photos:{write_photos(tmp_path / 'photos')}"
    config.data.photo_size = 64
    config = config_lib.validate(config)
    task = make_task(config, make_source(config.data))
    assert task.render_shadows and task.dead_leaves == pytest.approx(0.2)
    assert task.shadow_config.coverage == (0.05, 0.60)  # the "photo" preset


def _train(root, name, config_file, extra):
    workdir = str(root / name)
    args = ["train", "--config", config_file, "--workdir", workdir,
            f"--config.data.source=photos:{root / 'photos'}", "--config.data.photo_size=64",
            "--config.data.photo_scales=(1.0,)", "--config.data.test_fraction=0.34",
            "--config.steps=3", "--config.batch_size=8", "--config.eval_batch_size=8",
            "--config.log_every=3", "--config.eval_every=3", "--config.checkpoint_every=3",
            "--config.optimizer.warmup_steps=1", *extra]
    assert cli.main(args) == 0
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(detector workdir, joint workdir): 3 steps each of the two photo recipes, shrunk."""
    root = tmp_path_factory.mktemp("swap")
    write_photos(root / "photos", n=6)
    detector = _train(root, "detector", "configs/photos_detector.py",
                      ["--config.model.features=(8, 16)"])
    joint = _train(root, "joint", "configs/pretrain_photos.py",
                   ["--config.model.detector_features=(8,)",
                    "--config.model.remover_features=(8, 16)", "--config.data.crop=32"])
    return detector, joint


def test_a_joint_model_takes_the_detector_of_a_detection_run(runs, tmp_path, capsys):
    detector, joint = runs
    evaluation = [r for r in metrics_records(detector) if "eval_ber" in r]
    assert evaluation and 0 <= evaluation[-1]["eval_ber"] <= 100
    joint_file = str(tmp_path / "joint.msgpack")
    assert cli.main(["export", "--workdir", joint, "--out", joint_file]) == 0
    out = str(tmp_path / "swapped.msgpack")
    assert cli.main(["export", "--model", joint_file, "--detector", detector,
                     "--out", out]) == 0
    assert f"with the detector of {detector}" in capsys.readouterr().out

    model, variables, config = load_exported(out)
    _, joint_variables, _ = load_exported(joint_file)
    assert tuple(config.model.detector_features) == (8, 16)
    assert config.model.detector_global_context and config.model.illumination_features
    detector_file = str(tmp_path / "detector.msgpack")
    export_model(detector, detector_file)
    det_model, det_variables, _ = load_exported(detector_file)
    x = np.random.default_rng(0).uniform(size=(2, 48, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(model.apply(variables, x, train=False)["mask_logits"],
                               det_model.apply(det_variables, x, train=False), atol=1e-5)
    for name in variables["params"]:
        if name != "detector":
            jax.tree.map(np.testing.assert_array_equal, variables["params"][name],
                         joint_variables["params"][name])


def test_the_detector_must_come_from_a_detector_into_a_joint_model(runs, tmp_path, capsys):
    detector, joint = runs
    with pytest.raises(UserError, match="only replace the detector of a 'joint' model"):
        export_model(detector, str(tmp_path / "a.msgpack"), detector=detector)
    with pytest.raises(UserError, match="not a 'shadow_detector'"):
        export_model(joint, str(tmp_path / "b.msgpack"), detector=joint)
    assert not (tmp_path / "a.msgpack").exists() and not (tmp_path / "b.msgpack").exists()
    assert cli.main(["export", "--model", str(tmp_path / "x"), "--workdir", detector,
                     "--out", str(tmp_path / "c.msgpack")]) != 0
    assert "give either --workdir" in capsys.readouterr().err
