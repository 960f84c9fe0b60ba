"""Config files, overrides and validation."""

from pathlib import Path

import pytest

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError
from jaxshadow.validate import REQUIRED_KEYS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_every_recipe_loads_and_validates():
    for path in sorted(CONFIGS.glob("*.py")):
        config = config_lib.resolve(path)
        for key in REQUIRED_KEYS:
            assert key in config, (path.name, key)


def test_overrides_keep_types():
    c = config_lib.resolve(CONFIGS / "digits_cnn.py", [
        "--config.steps=7", "--config.optimizer.learning_rate=1e-2",
        "--config.data.source=tfds:mnist", "--config.checkpoint.keep_best=2",
        "--config.model.num_classes=12"])
    assert c.steps == 7 and c.optimizer.learning_rate == 0.01
    assert c.data.source == "tfds:mnist" and c.checkpoint.keep_best == 2
    assert c.model.num_classes == 12
    assert isinstance(config_lib.resolve(CONFIGS / "digits_cnn.py",
                                         ["--config.optimizer.learning_rate=1"]
                                         ).optimizer.learning_rate, float)


@pytest.mark.parametrize("words,message", [
    (["--config.batchsize=3"], "unknown config key 'batchsize'; did you mean 'batch_size'"),
    (["--config.optimizer.lerning_rate=3"], "did you mean 'optimizer.learning_rate'"),
    (["--config.steps=ten"], "bad value for steps: 'ten' is not an integer"),
    (["--config.steps=1.5"], "bad value for steps"),
    (["--config.steps=-3"], "'steps' must be a positive integer"),
    (["--config.dtype=float16"], "'dtype' must be one of"),
    (["--config.optimizer=3"], "is a group"),
    (["--config.data.skip_bad_examples=maybe"], "is not a boolean"),
    (["steps=3"], "unexpected argument"),
])
def test_bad_overrides_name_the_problem(words, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_lib.resolve(CONFIGS / "digits_cnn.py", words)


def test_missing_and_broken_config_files(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        config_lib.load(tmp_path / "nope.py")
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    with pytest.raises(UserError, match="failed to load: SyntaxError"):
        config_lib.load(broken)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(UserError, match="defines no get_config"):
        config_lib.load(empty)


def test_json_round_trip():
    c = config_lib.resolve(CONFIGS / "digits_cnn.py")
    again = config_lib.from_json(config_lib.to_json(c))
    assert config_lib.to_json(again) == config_lib.to_json(c)  # tuples come back as lists


def test_a_saved_config_missing_newer_keys_reads_with_their_defaults():
    saved = config_lib.defaults()
    with saved.data.unlocked():
        del saved.data["shadows"]
    with saved.unlocked():
        del saved["predict_size"]
    saved.model.width = 3  # a model option: extra keys survive
    loaded = config_lib.from_json(config_lib.to_json(saved))
    assert loaded.data.shadows == "synshadow" and loaded.predict_size == 0
    assert loaded.model.width == 3 and loaded.model.name == saved.model.name
