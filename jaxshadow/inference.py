"""A trained removal model as a function `apply(images) -> outputs`, from a workdir's newest
checkpoint or from a file written by `jaxshadow export`.

Only the model and its parameters are rebuilt (no dataset is read): for a workdir, the train
state's structure comes from `jax.eval_shape` of its initialisation on a small sample input.
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


def _check_removal(config, where):
    if config.task != "removal":
        raise UserError(f"{where} holds a '{config.task}' model, not a shadow-removal model")
    if config.data.mask_input:
        raise UserError(f"{where}: this model needs a shadow mask as input; train `joint` "
                        f"for mask-free prediction")


def _workdir_variables(workdir, config):
    model = build_model(config.model, config.dtype)
    tx, _ = make_optimizer(config.optimizer, config.steps)
    _, abstract_state = state_builders(config, model, tx, jnp.zeros((1, 32, 32, 3)))
    mesh = make_mesh(1)
    shardings = jax.tree.map(lambda _: replicated(mesh), abstract_state)
    state, step = restore_latest(workdir, config.checkpoint, abstract_state, shardings)
    return model, {"params": eval_params(state), **state.model_state}, step


def load_removal_model(workdir=None, model_file=None):
    """Returns (apply_fn, step) for the removal run in `workdir` or the export `model_file`.

    apply_fn(images float32 (N, H, W, 3) in [0, 1]) -> {"shadow_free": (N, H, W, 3),
    "mask": (N, H, W, 1) in [0, 1] or None}; jitted (one compilation per input shape).
    step: the checkpoint's step, None for an export.
    """
    if model_file:
        from jaxshadow.export import load_exported
        model, variables, config = load_exported(model_file)
        _check_removal(config, model_file)
        step = None
    else:
        config = load_run_config(workdir)
        _check_removal(config, workdir)
        model, variables, step = _workdir_variables(workdir, config)

    @jax.jit
    def apply_fn(images):
        outputs = model.apply(variables, images, train=False)
        if isinstance(outputs, dict):
            return {"shadow_free": outputs["shadow_free"],
                    "mask": jax.nn.sigmoid(outputs["mask_logits"])}
        return {"shadow_free": outputs, "mask": None}

    return apply_fn, step
