"""A trained run as a function: the newest checkpoint of a workdir -> `apply(images) -> outputs`.

Only the model and its parameters are rebuilt (no dataset is read): the train state's structure
comes from `jax.eval_shape` of its initialisation on a small sample input.
"""

import jax
import jax.numpy as jnp

from jaxshadow.errors import UserError
from jaxshadow.train.checkpoints import restore_latest
from jaxshadow.train.evaluate import load_run_config
from jaxshadow.train.mesh import make_mesh, replicated
from jaxshadow.train.optimizer import make_optimizer
from jaxshadow.train.setup import build_model, state_builders
from jaxshadow.train.steps import eval_params


def load_removal_model(workdir):
    """Returns (apply_fn, step) for the shadow-removal run in `workdir`.

    apply_fn(images float32 (N, H, W, 3) in [0, 1]) -> {"shadow_free": (N, H, W, 3),
    "mask": (N, H, W, 1) in [0, 1] or None}; jitted (one compilation per input shape).
    """
    config = load_run_config(workdir)
    if config.task != "removal":
        raise UserError(f"{workdir} holds a '{config.task}' run, not a shadow-removal run")
    if config.data.mask_input:
        raise UserError(f"{workdir}: this model needs a shadow mask as input; train `joint` "
                        f"for mask-free prediction")
    model = build_model(config.model, config.dtype)
    tx, _ = make_optimizer(config.optimizer, config.steps)
    _, abstract_state = state_builders(config, model, tx, jnp.zeros((1, 32, 32, 3)))
    mesh = make_mesh(1)
    shardings = jax.tree.map(lambda _: replicated(mesh), abstract_state)
    state, step = restore_latest(workdir, config.checkpoint, abstract_state, shardings)
    variables = {"params": eval_params(state), **state.model_state}

    @jax.jit
    def apply_fn(images):
        outputs = model.apply(variables, images, train=False)
        if isinstance(outputs, dict):
            return {"shadow_free": outputs["shadow_free"],
                    "mask": jax.nn.sigmoid(outputs["mask_logits"])}
        return {"shadow_free": outputs, "mask": None}

    return apply_fn, step
