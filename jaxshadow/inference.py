"""A trained removal model as a function `apply(images) -> outputs`, from a workdir's newest
checkpoint or from a file written by `jaxshadow export` (both through `jaxshadow.loading`)."""

import jax

from jaxshadow.errors import UserError
from jaxshadow.loading import load_trained


def _check_removal(config, where):
    if config.task != "removal":
        raise UserError(f"{where} holds a '{config.task}' model, not a shadow-removal model")
    if config.data.mask_input:
        raise UserError(f"{where}: this model needs a shadow mask as input; train `joint` "
                        f"for mask-free prediction")


def load_removal_model(workdir=None, model_file=None):
    """Returns (apply_fn, step) for the removal run in `workdir` or the export `model_file`.

    apply_fn(images float32 (N, H, W, 3) in [0, 1]) -> {"shadow_free": (N, H, W, 3),
    "mask": (N, H, W, 1) in [0, 1] or None}; jitted (one compilation per input shape).
    step: the checkpoint's step (an export's: the step it was exported at).
    """
    where = model_file or workdir
    trained = load_trained(where)
    _check_removal(trained.config, where)
    model, variables = trained.model, trained.variables

    @jax.jit
    def apply_fn(images):
        outputs = model.apply(variables, images, train=False)
        if isinstance(outputs, dict):
            return {"shadow_free": outputs["shadow_free"],
                    "mask": jax.nn.sigmoid(outputs["mask_logits"])}
        return {"shadow_free": outputs, "mask": None}

    return apply_fn, trained.step
