"""tools/ship_pretrained.py's check that a continued run was trained with the config it names."""

from jaxshadow import config as config_lib

from tools.ship_pretrained import _config_differences

CONFIG = "configs/finetune_veil_balanced.py"


def test_a_run_of_the_config_matches_it_wherever_it_was_continued_from():
    run = config_lib.load(CONFIG)
    run.checkpoint.init_from = "stage_one.msgpack"
    assert _config_differences(CONFIG, run) == []


def test_each_changed_field_is_named():
    run = config_lib.load(CONFIG)
    run.data.veil = 0.25
    run.loss.mask_bce = 1.0
    assert _config_differences(CONFIG, run) == ["data.veil: 0.25 in the checkpoint, 0.5 now",
                                                "loss.mask_bce: 1.0 in the checkpoint, 0.0 now"]
    names = [line.split(":")[0]
             for line in _config_differences("configs/finetune_veil.py", config_lib.load(CONFIG))]
    assert names == ["loss.mask_bce", "loss.mask_bce_balanced"]
