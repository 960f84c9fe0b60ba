"""A `joint` model with the detector of another run: `jaxshadow export --detector PATH`.

    with_detector(joint, detector) -> (config, variables)

`joint` and `detector` are `jaxshadow.loading.Trained` (a workdir's newest checkpoint or an
export file): a `joint` removal model and a `shadow_detector` (e.g. `configs/photos_detector.py`,
a detector trained alone, longer and at the working resolution). The result is the joint
model's config with the detector's architecture options (`detector_features`,
`illumination_features`, `detector_global_context`) and its variables with
params["detector"] replaced by the detector's parameters; the remover is untouched (it is
conditioned on a soft mask, so any detector whose mask is closer to the truth helps it).
"""

import copy

import jax
import jax.numpy as jnp

from jaxshadow.errors import UserError


def with_detector(joint, detector, *, joint_name="the model", detector_name="--detector"):
    """(config, variables) of `joint` with `detector`'s detector. Raises UserError naming the
    input that is not a joint model / not a shadow detector."""
    from jaxshadow.train.checkpoints import shapes_of
    from jaxshadow.train.setup import build_model

    if joint.config.model.name != "joint":
        raise UserError(f"{joint_name} is a '{joint.config.model.name}' model; a detector can "
                        f"only replace the detector of a 'joint' model")
    if detector.config.model.name != "shadow_detector":
        raise UserError(f"{detector_name} is a '{detector.config.model.name}' model, not a "
                        f"'shadow_detector'")
    det = detector.model  # the built ShadowDetector: its options with the defaults filled in
    config = copy.deepcopy(joint.config)
    with config.model.unlocked():
        config.model.detector_features = tuple(det.features)
        config.model.illumination_features = bool(det.illumination_features)
        config.model.detector_global_context = bool(det.global_context)
    params = dict(joint.variables["params"])
    params["detector"] = detector.variables["params"]
    variables = {**joint.variables, "params": params}

    model = build_model(config.model, config.dtype)
    expected = jax.eval_shape(lambda: model.init(
        jax.random.key(0), jnp.zeros((1, *joint.input_shape)), train=False))
    if shapes_of(variables) != shapes_of(dict(expected)):
        raise UserError(f"{detector_name}: its parameters do not fit the joint model's "
                        f"detector (other collections than 'params'?)")
    return config, variables
