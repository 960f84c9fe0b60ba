"""A trained removal model as a function `apply(images) -> outputs`, from a workdir's newest
checkpoint or from a file written by `jaxshadow export` (both through `jaxshadow.loading`)."""

import jax
import jax.numpy as jnp

from jaxshadow.errors import UserError
from jaxshadow.loading import load_trained


def check_removal(config, where):
    """UserError unless `config` is a mask-free removal model's (`where` names it)."""
    if config.task != "removal":
        raise UserError(f"{where} holds a '{config.task}' model, not a shadow-removal model")
    if config.data.mask_input:
        raise UserError(f"{where}: this model needs a shadow mask as input; train `joint` "
                        f"for mask-free prediction")


def load_removal_model(workdir=None, model_file=None):
    """Returns (apply_fn, step) for the removal run in `workdir` or the export `model_file`.

    apply_fn(images float32 (N, H, W, 3) in [0, 1]) -> {"shadow_free": (N, H, W, 3),
    "mask": (N, H, W, 1) in [0, 1] or None, "gain", "offset": (N, H, W, 3)}, where
    shadow_free = images * gain + offset (models without their own gain: gain 1, offset the
    residual); jitted (one compilation per input shape).
    step: the checkpoint's step (an export's: the step it was exported at).
    """
    where = model_file or workdir
    trained = load_trained(where)
    check_removal(trained.config, where)
    return removal_apply_fn(trained.model, trained.variables), trained.step


def removal_apply_fn(model, variables):
    """`apply_fn` (see `load_removal_model`) of a removal model and its variables."""

    @jax.jit
    def apply_fn(images):
        outputs = model.apply(variables, images, train=False)
        free = outputs["shadow_free"]
        mask = jax.nn.sigmoid(outputs["mask_logits"]) if "mask_logits" in outputs else None
        return {"shadow_free": free, "mask": mask,
                "gain": outputs.get("gain", jnp.ones_like(free)),
                "offset": outputs.get("offset", free - images[..., :3])}

    return apply_fn
