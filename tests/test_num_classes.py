"""Classifiers take their class count from the data source; an explicit override still wins."""

import jax
import numpy as np
import pytest

from helpers import digits_config
from jaxshadow.data.arrays import ArraySource
from jaxshadow.errors import UserError
from jaxshadow.train import setup

CLASSES = 12


def _twelve_classes(data_config):
    del data_config
    rng = np.random.default_rng(0)
    split = lambda n: {"image": rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                       "label": (np.arange(n) % CLASSES).astype(np.int32)}
    return ArraySource("twelve", {"train": split(48), "test": split(24)}, num_classes=CLASSES)


@pytest.fixture
def twelve(monkeypatch):
    monkeypatch.setattr(setup, "make_source", _twelve_classes)


def test_the_model_has_one_logit_per_class_of_the_data(twelve):
    run = setup.build_run(digits_config())
    assert run.config.model.num_classes == CLASSES
    logits = jax.eval_shape(lambda params: run.model.apply(
        {"params": params}, np.zeros((2, 28, 28, 1), np.float32)), run.abstract_state.params)
    assert logits.shape == (2, CLASSES)
    batch = run.source.read("train", np.arange(8))
    loss, _ = run.task.loss(run.model.apply({"params": run.initial_state().params},
                                            batch["image"] / 255.0), batch)
    assert np.isfinite(float(loss))


def test_an_explicit_class_count_wins_but_must_cover_the_labels(twelve):
    run = setup.build_run(digits_config(**{"model.num_classes": 16}))
    assert run.abstract_state.params["logits"]["kernel"].shape[-1] == 16
    with pytest.raises(UserError, match="model.num_classes=10 but data.source .* has 12 classes"):
        setup.build_run(digits_config(**{"model.num_classes": 10}))
