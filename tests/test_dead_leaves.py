"""Dead-leaves images and their use in the synthetic source's training batches."""

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxshadow import config as config_lib
from jaxshadow.data.arrays import ArraySource
from jaxshadow.data.dead_leaves import dead_leaves
from jaxshadow.errors import UserError
from jaxshadow.tasks import make_task
from jaxshadow.tasks.removal import RemovalTask


def _palette(n=4, h=40, w=56):
    """Images whose pixels all have distinct colours, so a colour names its source pixel."""
    rng = np.random.default_rng(0)
    return rng.permutation(n * h * w * 3).reshape(n, h, w, 3).astype(np.float32) / (n * h * w * 3)


def _colours(images):
    return {tuple(p) for p in np.asarray(images).reshape(-1, images.shape[-1])}


def test_every_pixel_is_a_palette_colour_and_the_discs_occlude_at_many_sizes():
    palette = _palette()
    out = np.asarray(dead_leaves(jax.random.key(0), palette))
    assert out.shape == palette.shape and out.dtype == palette.dtype
    assert _colours(out) <= _colours(palette)
    for image in out:
        # regions (discs, partly covered) of many sizes: several colours, none dominant
        counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)[1]
        assert len(counts) >= 20
        assert counts.max() < 0.9 * image.shape[0] * image.shape[1]
        assert counts.min() < 0.01 * image.shape[0] * image.shape[1]  # small discs too
    # a pure function of the key; images of one batch differ
    np.testing.assert_array_equal(out, np.asarray(dead_leaves(jax.random.key(0), palette)))
    assert not np.array_equal(out, np.asarray(dead_leaves(jax.random.key(1), palette)))
    assert not np.array_equal(out[0], out[1])


def test_each_region_is_a_union_of_disc_pieces_not_noise():
    """Neighbouring pixels mostly share a colour: edges are a small part of the image."""
    out = np.asarray(dead_leaves(jax.random.key(3), _palette(2, 64, 64)))
    same_right = np.all(out[:, :, 1:] == out[:, :, :-1], axis=-1).mean()
    same_down = np.all(out[:, 1:] == out[:, :-1], axis=-1).mean()
    assert same_right > 0.8 and same_down > 0.8


def test_removal_task_replaces_training_photos_only():
    rng = np.random.default_rng(1)
    free = rng.integers(20, 230, (6, 24, 24, 3), dtype=np.uint8)
    batch = {"shadow_free": free, "index": np.arange(6, dtype=np.int32)}
    plain_task = RemovalTask(render_shadows=True, loss_weights=(("l1", 1.0),), crop=16)
    task = dataclasses.replace(plain_task, dead_leaves=1.0)
    out = task.prepare(batch, jax.random.key(2), train=True)
    plain = plain_task.prepare(batch, jax.random.key(2), train=True)
    leaves = np.asarray(out["shadow_free"])
    assert not np.allclose(leaves, plain["shadow_free"])
    assert _colours(leaves) <= _colours(np.asarray(plain["shadow_free"]))  # the batch's colours
    # shadows are rendered on the dead leaves: darker only, lit pixels untouched
    assert np.all(np.asarray(out["shadow"]) <= leaves + 1e-6)
    lit = np.asarray(out["mask"])[..., 0] == 0
    np.testing.assert_array_equal(np.asarray(out["shadow"])[lit], leaves[lit])
    # evaluation never sees them
    evaluated = task.prepare(batch, jax.random.key(2), train=False)
    np.testing.assert_allclose(evaluated["shadow_free"], free / 255.0, atol=1e-7)
    # a fraction of 0.5 replaces some images of a batch, not all
    half = dataclasses.replace(plain_task, dead_leaves=0.5)
    replaced = [not np.allclose(a, b) for a, b in zip(
        np.asarray(half.prepare(batch, jax.random.key(7), train=True)["shadow_free"]),
        np.asarray(plain_task.prepare(batch, jax.random.key(7), train=True)["shadow_free"]))]
    assert 0 < sum(replaced) < 6


def test_dead_leaves_on_a_source_without_rendered_shadows_is_named():
    config = config_lib.resolve(Path(__file__).resolve().parents[1] / "configs" / "demo.py",
                                ["--config.data.dead_leaves=0.3"])
    source = config.data.source = "paired"
    images = np.zeros((2, 8, 8, 3), np.uint8)
    arrays = ArraySource(source, {"train": {"shadow_free": images, "index": np.arange(2)}},
                         task="removal")
    with pytest.raises(UserError, match="data.dead_leaves needs a source whose shadows are "
                                        "rendered"):
        make_task(config, arrays)
