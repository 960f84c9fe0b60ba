"""dtype=bfloat16: bf16 convolutions and activations, float32 parameters, optimizer state and
loss, and the digits recipe's accuracy within one point of float32's."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import config as config_lib
from jaxshadow.train.loop import train
from jaxshadow.train.setup import build_run, sample_batch

DIGITS = str(Path(__file__).resolve().parents[1] / "configs" / "digits_cnn.py")
# The recipe at half length on one device (its schedule scales with steps).
SHORT = ["--config.steps=300", "--config.eval_every=300", "--config.checkpoint_every=300",
         "--config.log_every=100", "--config.num_devices=1", "--config.data.reader=numpy"]


def test_bfloat16_computes_in_bf16_and_keeps_float32_state_and_loss():
    run = build_run(config_lib.resolve(DIGITS, [*SHORT, "--config.dtype=bfloat16"]))
    state = run.initial_state()
    batch = run.task.prepare(sample_batch(run.source), jax.random.key(0), train=True)
    variables = {"params": state.params, **state.model_state}
    _, inter = run.model.apply(variables, batch["input"], capture_intermediates=True)
    convs = {k: v["__call__"][0].dtype for k, v in inter["intermediates"].items()
             if k.startswith(("conv", "dense"))}
    assert convs and set(convs.values()) == {jnp.dtype(jnp.bfloat16)}, convs
    loss, _ = run.task.loss(run.model.apply(variables, batch["input"]), {**batch, "label":
                                                                         np.zeros(1, np.int32)})
    assert loss.dtype == jnp.float32
    for tree in (state.params, state.opt_state):
        assert {x.dtype for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)} \
            == {jnp.dtype(jnp.float32)}


def test_digits_recipe_reaches_the_same_accuracy_in_bfloat16(tmp_path):
    accuracy = {}
    for dtype in ("float32", "bfloat16"):
        config = config_lib.resolve(DIGITS, [*SHORT, f"--config.dtype={dtype}"])
        accuracy[dtype] = train(config, str(tmp_path / dtype))["eval_accuracy"]
    print(f"\ntest accuracy: {accuracy}")
    assert accuracy["float32"] > 0.9
    assert accuracy["bfloat16"] >= accuracy["float32"] - 0.01  # no worse than one point
