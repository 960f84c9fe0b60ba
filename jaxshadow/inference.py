"""A trained removal model as a function `apply(images) -> outputs`, from a workdir's newest
checkpoint, a file written by `jaxshadow export` (both through `jaxshadow.loading`), or the
shipped model (`jaxshadow.pretrained`)."""

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
    """Returns (trained, apply_fn, where) for the removal run in `workdir`, the export
    `model_file`, or (neither given) the shipped model (`jaxshadow.pretrained`).

    trained: `jaxshadow.loading.Trained` (model, variables, config, step, input shape);
    apply_fn: `removal_apply_fn` of its model; where: the path it was loaded from.
    """
    if workdir and model_file:
        raise UserError("give --workdir W (a run's newest checkpoint) or --model FILE (a file "
                        "written by `jaxshadow export`), not both")
    if workdir or model_file:
        where = workdir or model_file
        trained = load_trained(where)
    else:
        from jaxshadow import pretrained

        where = str(pretrained.MODEL_FILE)
        trained = pretrained.load_trained()
    check_removal(trained.config, where)
    return trained, removal_apply_fn(trained.model, trained.variables), where


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
