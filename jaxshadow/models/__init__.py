"""The model registry: `get(name, **overrides)` returns a `flax.linen` Module.

Every model is pure: `variables = model.init(key, x)` and `model.apply(variables, x, train=...)`.
One output type per task: classifiers return logits (N, classes), `shadow_detector` mask logits
(N, H, W, 1), removal models (`unet`, `joint`, `nafnet`, `shadowformer`) a dict with at least "shadow_free" (N, H, W, 3).
Mutable collections (e.g. `batch_stats`) are returned by `apply(..., mutable=[...])` and carried
explicitly by the caller.
"""

import difflib

from jaxshadow.errors import UserError
from jaxshadow.models.classifiers import CNNSmall, CNNTiny
from jaxshadow.models.detector import ShadowDetector
from jaxshadow.models.joint import JointRemover
from jaxshadow.models.nafnet import NAFNet
from jaxshadow.models.shadowformer import ShadowFormer
from jaxshadow.models.unet import ShadowRemovalUNet, UNet

__all__ = ["CNNSmall", "CNNTiny", "JointRemover", "NAFNet", "ShadowDetector", "ShadowFormer",
           "ShadowRemovalUNet", "UNet", "check", "get", "names", "register"]

_REGISTRY = {
    "cnn_tiny": CNNTiny,
    "cnn_small": CNNSmall,
    "unet": ShadowRemovalUNet,
    "shadow_detector": ShadowDetector,
    "joint": JointRemover,
    "nafnet": NAFNet,
    "shadowformer": ShadowFormer,
}


def register(name, module_class):
    """Adds a Module class to the registry under `name`."""
    _REGISTRY[name] = module_class


def names():
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def check(name, options):
    """Raises UserError unless `name` is a registered model and every key of `options` is one of
    its attributes (naming the closest match)."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(f"unknown model '{name}'{hint}; known models: {', '.join(names())}")
    fields = {f for f in _REGISTRY[name].__dataclass_fields__ if f not in ("parent", "name")}
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"model '{name}' has no option '{key}'{hint}")


def get(name, **overrides):
    """Returns the Module `name` built with `overrides` as its attributes.

    Raises UserError naming the model or the attribute when either is unknown.
    """
    check(name, overrides)
    return _REGISTRY[name](**overrides)
