"""One validate(config, devices): every config check before data or workdir, named in one line."""

from pathlib import Path

import jax
import pytest

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError
from jaxshadow.validate import validate

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.py"


def _demo(**overrides):
    return config_lib.resolve(DEMO, [(k, repr(v) if not isinstance(v, str) else v)
                                     for k, v in overrides.items()])


def test_every_recipe_passes_with_this_machines_devices():
    for path in sorted(DEMO.parent.glob("*.py")):
        config = config_lib.resolve(path)
        # the recipes are written for any device count that divides their batch
        config.num_devices = 1
        assert validate(config, jax.devices()[:1]) is config, path.name


@pytest.mark.parametrize("overrides,message", [
    ({"data.dead_leaves": 1.5}, r"'data.dead_leaves' is a fraction in \[0, 1\], got 1.5"),
    ({"data.shadow_free": 1.0}, r"'data.shadow_free' is a fraction in \[0, 1\), got 1.0"),
    ({"data.bright_shadows": 1.5}, r"'data.bright_shadows' is a fraction in \[0, 1\], got 1.5"),
    ({"data.mild_shadows": -0.1}, r"'data.mild_shadows' is a fraction in \[0, 1\], got -0.1"),
    ({"data.veil": 1.5}, r"'data.veil' is a fraction in \[0, 1\], got 1.5"),
    ({"data.reader": "arrow"}, "'data.reader' must be one of"),
    ({"data.device_prefetch": 0}, "'data.device_prefetch' must be >= 1"),
    ({"data.crop": -4}, "'data.crop' must be 0 or a positive integer"),
    ({"eval_batch_size": -8}, "'eval_batch_size' must be 0 or a positive integer"),
    ({"optimizer.ema_decay": 1.0}, r"'optimizer.ema_decay' must be in \[0, 1\)"),
    ({"task": "detection"}, "task 'detection' trains model 'shadow_detector'"),
    ({"task": "segmentation"}, "'task' must be one of"),
    ({"dtype": "float16"}, "'dtype' must be one of"),
    ({"steps": 0}, "'steps' must be a positive integer, got 0"),
    ({"checkpoint.init_from": "/no/such/run"},
     r"'checkpoint.init_from': /no/such/run not found \(a workdir or a file written by"),
    ({"optimizer.name": "lamb"}, "'optimizer.name' must be one of"),
    ({"optimizer.schedule": "step"}, "'optimizer.schedule' must be one of"),
    ({"optimizer.learning_rate": 0.0}, "'optimizer.learning_rate' must be > 0, got 0.0"),
    ({"optimizer.accumulate_steps": 0}, "'optimizer.accumulate_steps' must be >= 1"),
    ({"data.max_in_memory_gb": -1.0}, "'data.max_in_memory_gb' must be >= 0, got -1.0"),
    ({"data.workers": -1}, "'data.workers' must be >= 0, got -1"),
])
def test_config_only_checks_run_at_resolve(overrides, message):
    with pytest.raises(UserError, match=message):
        _demo(**overrides)


@pytest.mark.parametrize("overrides,message", [
    ({"model.detector_feature": 8}, "model 'joint' has no option 'detector_feature' \\(did you mean 'detector_features'\\?\\)"),
    ({"model.name": "unte"}, "unknown model 'unte' \\(did you mean 'unet'\\?\\)"),
    ({"model.mask_perturbation": 2.0},
     r"'model.mask_perturbation' is a fraction in \[0, 1\], got 2.0"),
    ({"data.shadows": "noon"},
     "'data.shadows' must be one of \\['photo', 'photo_crop', 'synshadow'\\]"),
    ({"num_devices": 9}, "num_devices=9 but only 8 devices exist"),
    ({"mesh.fsdp": 3}, "mesh.fsdp=3 does not divide the 8 devices"),
    ({"batch_size": 12}, "batch_size=12 does not divide over 8 devices"),
    ({"eval_batch_size": 20, "num_devices": 8}, "eval_batch_size=20 does not divide over 8"),
])
def test_machine_checks_name_the_key(overrides, message):
    config = _demo(**overrides)  # passes the config-only checks
    with pytest.raises(UserError, match=message):
        validate(config, jax.devices())


def test_batch_must_split_over_processes():
    config = _demo(batch_size=8, num_devices=8)
    with pytest.raises(UserError, match="batch_size=8 does not divide over 3 processes"):
        validate(config, jax.devices(), process_count=3)
    assert validate(config, jax.devices(), process_count=2) is config


def test_a_failing_config_leaves_no_workdir(tmp_path):
    from jaxshadow.train.loop import train

    workdir = tmp_path / "run"
    with pytest.raises(UserError, match="has no option"):
        train(_demo(**{"model.widht": 8}), str(workdir))
    assert not workdir.exists()
