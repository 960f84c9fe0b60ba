"""A trained removal model as a function `apply(images) -> outputs`, from a workdir's newest
checkpoint, a file written by `jaxshadow export` or `jaxshadow import-weights` (both through
`jaxshadow.loading`), or the shipped model (`jaxshadow.pretrained`).

A model that reads a shadow mask as its 4th input channel (`data.mask_input`, e.g.
`shadowformer`) runs mask-free: the shipped model's mask, thresholded at 0.5 (the datasets'
masks are binary), is the 4th channel and the mask written beside the result.

Mask-guided (`mask_guided=True`, `jaxshadow predict --masks DIR`): the user gives the mask.
The images arrive with it as a 4th channel; a `joint` model's remover is conditioned on it
instead of its detector's mask, and a `data.mask_input` model reads it (thresholded at 0.5)
as its 4th channel. Other models take no mask: a UserError says so.
"""

import jax
import jax.numpy as jnp

from jaxshadow.errors import UserError
from jaxshadow.loading import load_trained


MASK_THRESHOLD = 0.5


def check_removal(config, where):
    """UserError unless `config` is a removal model's (`where` names it)."""
    if config.task != "removal":
        raise UserError(f"{where} holds a '{config.task}' model, not a shadow-removal model")


def load_removal_model(workdir=None, model_file=None, *, mask_guided=False):
    """Returns (trained, apply_fn, where) for the removal run in `workdir`, the export
    `model_file`, or (neither given) the shipped model (`jaxshadow.pretrained`).

    trained: `jaxshadow.loading.Trained` (model, variables, config, step, input shape);
    apply_fn: `removal_apply_fn` of its model (with `mask_guided`, `mask_guided_apply_fn`);
    where: the path it was loaded from.
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
    if mask_guided:
        return trained, mask_guided_apply_fn(trained, where), where
    detector = shipped_mask_fn() if trained.config.data.mask_input else None
    return trained, removal_apply_fn(trained.model, trained.variables, detector), where


def shipped_mask_fn():
    """images (N, H, W, 3) -> the shipped model's shadow probability (N, H, W, 1)."""
    from jaxshadow import pretrained

    shipped = pretrained.load_trained()
    return lambda images: jax.nn.sigmoid(
        shipped.model.apply(shipped.variables, images, train=False)["mask_logits"])


def removal_apply_fn(model, variables, mask_fn=None):
    """`apply_fn` (see `load_removal_model`) of a removal model and its variables; `mask_fn`
    (images -> (N, H, W, 1) probabilities) gives the mask of a model that reads one."""

    @jax.jit
    def apply_fn(images):
        mask = None
        inputs = images
        if mask_fn is not None:
            mask = _binary(mask_fn(images))
            inputs = jnp.concatenate([images, mask], axis=-1)
        outputs = model.apply(variables, inputs, train=False)
        if "mask_logits" in outputs:
            mask = jax.nn.sigmoid(outputs["mask_logits"])
        return _removal_outputs(outputs, images[..., :3], mask)

    return apply_fn


def _binary(mask):
    """A mask in [0, 1] thresholded at MASK_THRESHOLD, as the binary masks a `data.mask_input`
    model was trained on."""
    return (mask >= MASK_THRESHOLD).astype(mask.dtype)


def _removal_outputs(outputs, rgb, mask):
    """The `apply_fn` dict of a removal model's `outputs` for `rgb`: where the model gives no
    gain and offset, gain 1 and the residual as offset."""
    free = outputs["shadow_free"]
    return {"shadow_free": free, "mask": mask,
            "gain": outputs.get("gain", jnp.ones_like(free)),
            "offset": outputs.get("offset", free - rgb)}


def takes_mask(config):
    """Whether a removal model of `config` can be conditioned on a given shadow mask."""
    return config.model.name == "joint" or bool(config.data.mask_input)


def mask_guided_apply_fn(trained, where="the model"):
    """`apply_fn` of a removal model conditioned on a given mask: images (N, H, W, 4), RGB
    and the mask in [0, 1] -> the `removal_apply_fn` outputs, "mask" the given one.
    UserError (naming `where`) for a model that takes no mask."""
    config = trained.config
    if not takes_mask(config):
        raise UserError(f"{where}: a '{config.model.name}' model takes no shadow mask; a mask "
                        f"guides a 'joint' model or one trained with data.mask_input")
    model, variables = trained.model, trained.variables
    joint = config.model.name == "joint"

    @jax.jit
    def apply_fn(images):
        rgb, mask = images[..., :3], images[..., 3:4]
        if joint:
            outputs = model.apply(variables, rgb, train=False, mask=mask)
        else:
            outputs = model.apply(variables, jnp.concatenate([rgb, _binary(mask)], axis=-1),
                                  train=False)
        return _removal_outputs(outputs, rgb, mask)

    return apply_fn
