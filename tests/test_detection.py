"""Shadow detection trained alone: the task's BER protocol, and `configs/sbu_detector.py` end to
end on a folder of images with masks (train, then eval on its test split and on the real
detection photos beside the checkout, which are only ever evaluated on)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jaxshadow import cli
from jaxshadow import config as config_lib
from jaxshadow.errors import UserError
from jaxshadow.tasks.detection import DetectionTask

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "detection"


def test_ber_is_pooled_over_every_pixel_of_the_split():
    task = DetectionTask()
    mask = np.zeros((2, 4, 4, 1), np.uint8)
    mask[0, :2] = 255                      # image 0: 8 shadow pixels, image 1: none
    logits = np.full((2, 4, 4, 1), -5.0, np.float32)
    logits[0, :1] = 5.0                    # 4 of the 8 shadow pixels found
    logits[1, 0, 0] = 5.0                  # one false alarm among 16 lit pixels
    batch = task.prepare({"image": np.zeros((2, 4, 4, 3), np.uint8), "mask": mask,
                          "valid": np.ones(2, np.float32)}, None, train=False)
    summary = task.summarize(task.eval_sums(logits, batch))
    # pooled: TP = 4 of Np = 8, TN = 23 of Nn = 24
    assert summary["shadow_error"] == pytest.approx(50.0)
    assert summary["non_shadow_error"] == pytest.approx(100 / 24, rel=1e-5)
    assert summary["ber"] == pytest.approx(100 * (1 - 0.5 * (4 / 8 + 23 / 24)), rel=1e-5)


def _write_detection(root, n=24, size=(40, 48)):
    """images/ + masks/: textured photos with a darker rectangle where the mask is 255."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        image = rng.integers(90, 256, (*size, 3)).astype(np.float32)
        mask = np.zeros(size, np.uint8)
        y, x = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
        mask[y:y + size[0] // 2, x:x + size[1] // 2] = 255
        image[mask > 0] *= 0.35
        Image.fromarray(image.astype(np.uint8)).save(root / "images" / f"im{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"im{i}.png")


def test_the_detector_recipe_trains_and_evaluates_on_a_folder(tmp_path, capsys):
    data = tmp_path / "detection"
    _write_detection(data)
    workdir = str(tmp_path / "run")
    small = [f"--config.data.source=detection:{data}", "--config.data.load_size=(40, 48)",
             "--config.data.crop=32", "--config.model.features=(8, 16)", "--config.steps=60",
             "--config.batch_size=8", "--config.eval_batch_size=8", "--config.log_every=20",
             "--config.eval_every=60", "--config.checkpoint_every=60",
             "--config.optimizer.warmup_steps=5", "--config.optimizer.learning_rate=3e-3"]
    assert cli.main(["train", "--config", str(ROOT / "configs" / "sbu_detector.py"),
                     "--workdir", workdir, *small]) == 0
    capsys.readouterr()
    out = tmp_path / "eval.json"
    assert cli.main(["eval", "--workdir", workdir, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["step"] == 60 and result["dataset"] == f"detection:{data}"
    assert result["ber"] < 25  # a dark rectangle is easy; an all-lit guess scores 50
    assert 0 <= result["shadow_error"] <= 100 and 0 <= result["non_shadow_error"] <= 100

    if not REAL.is_dir():
        pytest.fail(f"real detection images not found at {REAL}")
    assert cli.main(["eval", "--workdir", workdir, "--data", f"detection:{REAL}",
                     "--json", str(tmp_path / "real.json")]) == 0  # its seeded held-out photos
    real = json.loads((tmp_path / "real.json").read_text())
    assert 0 <= real["ber"] <= 100


def test_detection_needs_the_detector_model(tmp_path):
    data = tmp_path / "d"
    _write_detection(data, n=4)
    with pytest.raises(UserError, match="task 'detection' trains model 'shadow_detector'"):
        config_lib.resolve(str(ROOT / "configs" / "sbu_detector.py"),
                           [f"--config.data.source=detection:{data}", "--config.model.name=unet"])
