"""The removal test set is fixed: its rendered shadows depend on `data.eval_seed`, never on the
training `seed`, so runs with different seeds are scored on the same images."""

import jax
import numpy as np

from jaxshadow import config as config_lib
from jaxshadow.data.pipeline import eval_batches
from jaxshadow.data.sources import make_source
from jaxshadow.tasks import make_task


def _demo_config(*overrides):
    return config_lib.resolve("configs/demo.py", list(overrides))


def _eval_batch(config, source):
    task = make_task(config, source)
    batch = next(eval_batches(source, "test", batch_size=8))
    return jax.device_get(task.prepare(batch, jax.random.key(config.seed), train=False))


def test_training_seeds_share_the_rendered_test_set():
    source = make_source(_demo_config().data)
    first = _eval_batch(_demo_config("--config.seed=0"), source)
    second = _eval_batch(_demo_config("--config.seed=1"), source)
    for key in ("input", "shadow", "mask", "shadow_free"):
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    other = _eval_batch(_demo_config("--config.data.eval_seed=7"), source)
    assert not np.array_equal(first["mask"], other["mask"])


def test_shadow_free_images_are_for_training_only():
    """data.shadow_free=0.5: about half the training images keep no shadow, while the test set
    is the one every run is scored on (all its images shadowed)."""
    source = make_source(_demo_config().data)
    config = _demo_config("--config.data.shadow_free=0.5")
    np.testing.assert_array_equal(_eval_batch(config, source)["mask"],
                                  _eval_batch(_demo_config(), source)["mask"])
    task = make_task(config, source)
    batch = next(eval_batches(source, "train", batch_size=32))
    train = jax.device_get(task.prepare(batch, jax.random.key(0), train=True))
    empty = train["mask"].reshape(32, -1).max(axis=1) == 0
    assert 6 <= empty.sum() <= 26, empty.sum()
    np.testing.assert_array_equal(train["shadow"][empty], train["shadow_free"][empty])


def test_bright_and_mild_shadows_are_for_training_only():
    """data.bright_shadows=1 and data.mild_shadows=1 change where and how dark the training
    shadows are, never the test set every run is scored on."""
    source = make_source(_demo_config().data)
    config = _demo_config("--config.data.bright_shadows=1.0", "--config.data.mild_shadows=1.0")
    test = _eval_batch(config, source)
    plain = _eval_batch(_demo_config(), source)
    for key in ("input", "mask"):
        np.testing.assert_array_equal(test[key], plain[key], err_msg=key)
    task, plain_task = make_task(config, source), make_task(_demo_config(), source)
    batch = next(eval_batches(source, "train", batch_size=8))
    train = jax.device_get(task.prepare(batch, jax.random.key(0), train=True))
    plain_train = jax.device_get(plain_task.prepare(batch, jax.random.key(0), train=True))
    assert not np.array_equal(train["input"], plain_train["input"])
