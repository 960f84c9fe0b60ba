"""jaxshadow: convolutional networks that remove shadows from images, in JAX.

The public API, one subpackage each (imported on first use, so `import jaxshadow` is cheap):

    jaxshadow.models     the flax.linen modules and the registry `get(name, **options)`, `names()`
    jaxshadow.metrics    the field's metrics: `lab_error`, `psnr`, `ssim`, `ber`
    jaxshadow.data       sources, the input pipeline, `synthetic.render`, `istd_plus_correct`
    jaxshadow.color      sRGB <-> Lab conversions (D65, or D50 as MATLAB's makecform)
    jaxshadow.losses     the removal losses
    jaxshadow.resize     MATLAB's `imresize` (bicubic, antialiased), in JAX
    jaxshadow.loading    `load(workdir_or_file) -> (model, variables, config)`
    jaxshadow.export     `load_exported(path)`: the same for an exported file
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("color", "data", "export", "loading", "losses", "metrics", "models", "resize")
__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"jaxshadow.{name}")
    raise AttributeError(f"module 'jaxshadow' has no attribute '{name}'")
