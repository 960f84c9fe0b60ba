"""Shadow removal end to end: the task's batches and metrics, folder sources, train → predict."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from jaxshadow import cli
from jaxshadow import metric_names as names
from jaxshadow.data.folder_source import load_folder_source
from jaxshadow.data.pipeline import train_batches
from jaxshadow.data.tf_setup import tensorflow_available
from jaxshadow.errors import UserError
from jaxshadow.eval_report import removal_result
from jaxshadow.resize import imresize_matlab
from jaxshadow.tasks.removal import RemovalTask
from tests.helpers import write_istd, write_paired

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"


def _real():
    if not REAL.is_dir():
        pytest.fail(f"real test images not found at {REAL} (the repo must sit beside shared/)")
    return REAL


def test_identity_model_scores_exactly_the_input():
    task = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),))
    rng = np.random.default_rng(1)
    batch = {"shadow_free": rng.integers(0, 256, (4, 40, 40, 3), dtype=np.uint8),
             "index": np.arange(4, dtype=np.int32), "valid": np.ones(4, np.float32)}
    prepared = task.prepare(batch, jax.random.key(0), train=False)
    again = task.prepare(batch, jax.random.key(9), train=False)  # eval shadows: fixed per index
    np.testing.assert_array_equal(prepared["shadow"], again["shadow"])
    summary = task.summarize(task.eval_sums({"shadow_free": prepared["shadow"]}, prepared))
    for name in ("lab_shadow", "lab_non_shadow", "lab_all", "psnr", "ssim"):
        assert summary[name] == pytest.approx(summary[f"input_{name}"], rel=1e-6)
    # Non-shadow pixels (mask <= 0.5) differ only in the outer penumbra.
    assert 5 * summary["input_lab_non_shadow"] < summary["input_lab_shadow"]


def _matlab_script_reference(shadow, free, mask, size):
    """The published evaluation script's pooled and per-image shadow-region errors, in NumPy:
    imresize of [0, 1] doubles, imresize of the uint8 mask (non-zero = shadow), Lab, |d| sums."""
    total, pixels, per_image = 0.0, 0, []
    for s, f, m in zip(shadow, free, mask):
        s, f = imresize_matlab(s, (size, size)), imresize_matlab(f, (size, size))
        m = imresize_matlab(np.where(m[..., 0] > 0.5, 255, 0).astype(np.uint8), (size, size)) > 0
        dist = np.abs(rgb2lab(np.clip(s, 0, None)) - rgb2lab(np.clip(f, 0, None))).sum(-1)
        total, pixels = total + dist[m].sum(), pixels + m.sum()
        per_image.append(dist[m].mean())
    return total / pixels, float(np.mean(per_image))


def test_resized_protocol_matches_the_published_script():
    task = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), eval_size=256)
    rng = np.random.default_rng(4)
    batch = {"shadow_free": rng.integers(30, 256, (3, 48, 64, 3), dtype=np.uint8),
             "index": np.arange(3, dtype=np.int32), "valid": np.ones(3, np.float32)}
    prepared = task.prepare(batch, jax.random.key(0), train=False)
    summary = task.summarize(task.eval_sums({"shadow_free": prepared["shadow"]}, prepared))
    arrays = [np.asarray(prepared[k], np.float64) for k in ("shadow", "shadow_free", "mask")]
    pooled, per_image = _matlab_script_reference(*arrays, size=256)
    assert summary["input_lab_shadow_256"] == pytest.approx(pooled, rel=2e-3)
    assert summary["input_lab_shadow_per_image_256"] == pytest.approx(per_image, rel=2e-3)
    # Resizing changes the numbers (a dilated mask, smoothed images): it is a separate protocol.
    assert summary["input_lab_shadow_256"] != pytest.approx(summary["input_lab_shadow"], rel=1e-3)
    # The names the task writes are exactly those metric_names builds, and the report reads them.
    built = {names.removal_key(q, of_input=i, per_image=p, size=z)
             for q in ("lab_shadow", "lab_non_shadow", "lab_all", "psnr", "ssim")
             for i in (False, True) for p in (False, True) for z in (None, 256)}
    assert set(summary) == built
    result = removal_result(summary, dataset="d", split="test", step=1, white="D65", size=256)
    assert result["input"]["shadow"] == summary["input_lab_shadow_256"]


def test_training_batches_are_augmented_alike():
    task = RemovalTask(render_shadows=False, loss_weights=(("l1", 1.0),), crop=16, rot90=True)
    rng = np.random.default_rng(2)
    free = rng.integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    batch = {"shadow": free, "shadow_free": free, "mask": free[..., :1]}
    out = task.prepare(batch, jax.random.key(3), train=True)
    assert out["input"].shape == (3, 16, 16, 3)
    np.testing.assert_array_equal(out["shadow"], out["shadow_free"])
    np.testing.assert_array_equal(out["mask"], out["shadow"][..., :1])


@pytest.mark.skipif(not tensorflow_available(),
                    reason="the tf.data reader needs TensorFlow (pip install -e '.[tf]')")
def test_paired_folder_source_streams_identically_through_tf_and_numpy(tmp_path):
    write_paired(tmp_path / "pairs", n=12)
    source = load_folder_source("paired", str(tmp_path / "pairs"))
    assert source.num_examples("train") + source.num_examples("test") == 12
    kw = dict(seed=5, batch_size=4, num_steps=6)
    tf_full = list(train_batches(source, "train", start_step=0, reader="tf", **kw))
    np_full = list(train_batches(source, "train", start_step=0, reader="numpy", **kw))
    np_resumed = list(train_batches(source, "train", start_step=3, reader="numpy", **kw))
    for a, b in zip(tf_full, np_full):
        for key in ("shadow", "shadow_free", "mask", "index"):
            np.testing.assert_array_equal(a[key], b[key])
    for a, b in zip(np_full[3:], np_resumed):
        np.testing.assert_array_equal(a["shadow"], b["shadow"])


def test_bad_file_stops_before_training_unless_skipped(tmp_path, capsys):
    root = tmp_path / "pairs"
    write_paired(root, n=20)
    bad = root / "shadow" / "im3.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(UserError, match="im3.png"):
        load_folder_source("paired", str(root))
    source = load_folder_source("paired", str(root), skip_bad_examples=True)
    assert source.num_examples("train") + source.num_examples("test") == 19
    assert "skipped 1 bad files" in capsys.readouterr().err


def test_data_check_lists_the_truncated_file_and_fails(tmp_path, capsys):
    root = tmp_path / "pairs"
    write_paired(root, n=4)
    bad = root / "shadow_free" / "im1.png"
    bad.write_bytes(bad.read_bytes()[:50])
    assert cli.main(["data", "check", f"paired:{root}"]) == 1
    out = capsys.readouterr().out
    assert "im1.png" in out and "problem" in out
    assert cli.main(["data", "check", f"detection:{_real() / 'detection'}"]) == 0


def test_train_eval_predict_on_real_images(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    tiny = ["--config.model.detector_features=(8, 16)", "--config.model.remover_features=(8, 16)",
            "--config.data.tile=96", "--config.data.crop=32", "--config.steps=3",
            "--config.batch_size=8", "--config.eval_batch_size=64", "--config.log_every=1",
            "--config.eval_every=3", "--config.checkpoint_every=3", "--config.num_devices=2"]
    assert cli.main(["train", "--config", str(ROOT / "configs" / "demo.py"),
                     "--workdir", workdir, *tiny]) == 0
    records = [json.loads(l) for l in open(f"{workdir}/metrics.jsonl")]
    evals = [r for r in records if "eval_lab_shadow" in r]
    assert evals and evals[-1]["eval_input_lab_shadow"] > evals[-1]["eval_input_lab_non_shadow"]
    with Image.open(f"{workdir}/samples/step_000003.png") as grid:  # 6 rows × 5 columns of 96²
        assert grid.size == (5 * 98 - 2, 6 * 98 - 2) and grid.mode == "RGB"

    capsys.readouterr()
    # The run's own test split at native resolution (--size 0) reproduces the run's figures.
    assert cli.main(["eval", "--workdir", workdir, "--size", "0",
                     "--json", str(tmp_path / "eval.json")]) == 0
    table = capsys.readouterr().out
    assert "per-image, native resolution" in table and "256x256" not in table
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["dataset"] == "synthetic" and result["step"] == 3
    assert result["protocol"] == "pixel-pooled, native resolution"
    assert len(result["protocols"]) == 2
    native = result["protocols"][0]
    assert native["input"]["shadow"] == pytest.approx(evals[-1]["eval_input_lab_shadow"], rel=1e-5)
    assert native["model"]["shadow"] == pytest.approx(evals[-1]["eval_lab_shadow"], rel=1e-5)
    # Another source, with the four protocols of the papers' tables (the resized one first).
    pairs = tmp_path / "pairs"
    write_paired(pairs, n=8)
    assert cli.main(["eval", "--workdir", workdir, "--data", f"paired:{pairs}", "--white", "D50",
                     "--json", str(tmp_path / "paired.json")]) == 0
    table = capsys.readouterr().out
    assert "pixel-pooled, 256x256" in table and "per-image, native resolution" in table
    paired = json.loads((tmp_path / "paired.json").read_text())
    assert paired["dataset"] == f"paired:{pairs}" and paired["white"] == "D50"
    assert paired["protocol"] == "pixel-pooled, 256x256" and len(paired["protocols"]) == 4
    for who in ("model", "input"):
        assert set(paired[who]) == {"shadow", "non_shadow", "all", "psnr", "ssim"}
    assert paired["input"]["shadow"] > 5 * paired["input"]["non_shadow"]

    out = tmp_path / "out"
    inputs = [str(_real() / "istd_inputs"), str(_real() / "istd" / "114-5_shadow.png")]
    capsys.readouterr()
    assert cli.main(["predict", "--workdir", workdir, "--out", str(out), "--compare",
                     *inputs]) == 0
    for path in [*sorted((_real() / "istd_inputs").glob("*.png")),
                 _real() / "istd" / "114-5_shadow.png"]:
        with Image.open(path) as src, Image.open(out / f"{path.stem}.png") as result:
            assert result.size == src.size
        with Image.open(out / f"{path.stem}_mask.png") as mask:
            assert mask.size == src.size and mask.mode == "L"


@pytest.mark.parametrize("recipe,name", [("istd_unet.py", "istd"), ("istd_plus_unet.py", "istd_plus")])
def test_dataset_recipes_train_and_evaluate(tmp_path, recipe, name):
    root = tmp_path / "ISTD_Dataset"
    write_istd(root)
    workdir = str(tmp_path / "run")
    small = ["--config.model.features=(8, 16)", "--config.data.crop=32", "--config.steps=2",
             "--config.batch_size=4", "--config.eval_batch_size=4", "--config.log_every=1",
             "--config.eval_every=2", "--config.checkpoint_every=2", "--config.num_devices=2",
             "--config.optimizer.warmup_steps=1", f"--config.data.source={name}:{root}"]
    assert cli.main(["train", "--config", str(ROOT / "configs" / recipe),
                     "--workdir", workdir, *small]) == 0
    out = tmp_path / "eval.json"
    assert cli.main(["eval", "--workdir", workdir, "--white", "D50", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"] == f"{name}:{root}" and result["step"] == 2
    assert result["input"]["shadow"] > 10 * max(result["input"]["non_shadow"], 0.1)

    # The same model exported to one file: eval and predict give what the workdir gives.
    model_file = tmp_path / "model.msgpack"
    assert cli.main(["export", "--workdir", workdir, "--out", str(model_file)]) == 0
    out = tmp_path / "exported.json"
    assert cli.main(["eval", "--model", str(model_file), "--white", "D50", "--json", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert exported["step"] == 2  # the step the export was written from
    assert exported["model"]["shadow"] == pytest.approx(result["model"]["shadow"], rel=1e-5)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), np.uint8)).save(photo)
    for flag, value in (("--workdir", workdir), ("--model", str(model_file))):
        assert cli.main(["predict", flag, value, "--out", str(tmp_path / flag[2:]), str(photo)]) == 0
    with Image.open(tmp_path / "workdir" / "photo.png") as a, \
            Image.open(tmp_path / "model" / "photo.png") as b:
        assert a.size == (50, 30) and np.array_equal(np.asarray(a), np.asarray(b))
    assert cli.main(["predict", "--workdir", workdir, "--model", str(model_file),
                     "--out", str(tmp_path / "both"), str(photo)]) == 2


def test_color_augment_recolours_before_shadows_are_rendered():
    task = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), crop=16,
                       color_augment=True)
    rng = np.random.default_rng(5)
    free = rng.integers(20, 200, (4, 24, 24, 3), dtype=np.uint8)
    out = task.prepare({"shadow_free": free}, jax.random.key(1), train=True)
    plain = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), crop=16).prepare(
        {"shadow_free": free}, jax.random.key(1), train=True)
    # same crop and shadow, other colours; the rendered shadow still only darkens
    assert not np.allclose(out["shadow_free"], plain["shadow_free"])
    np.testing.assert_array_equal(out["mask"], plain["mask"])
    assert np.all(np.asarray(out["shadow"]) <= np.asarray(out["shadow_free"]) + 1e-6)
    lit = np.asarray(out["mask"])[..., 0] == 0
    np.testing.assert_array_equal(np.asarray(out["shadow"])[lit],
                                  np.asarray(out["shadow_free"])[lit])
