"""Metrics and the rendered evaluation data use full-precision products on every backend:
every matrix product in the Lab conversion, the MATLAB resize and the shadow renderer asks
for HIGHEST precision (GPUs default to TF32, TPUs to bfloat16 passes), and the LAB error
equals the float64 reference under a bfloat16 default matmul precision too."""

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from skimage.color import rgb2lab

from jaxshadow import metrics
from jaxshadow.color import rgb_to_lab
from jaxshadow.data.synthetic import render
from jaxshadow.resize import imresize_matlab_batch

HIGHEST = jax.lax.Precision.HIGHEST


def _dot_precisions(jaxpr):
    """The precision of every dot_general in a closed jaxpr, sub-jaxprs included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn.params["precision"])
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    found += _dot_precisions(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    found += _dot_precisions(sub)
    return found


def test_every_product_in_metrics_and_rendering_is_full_precision():
    images = jnp.full((2, 24, 24, 3), 0.5)
    for fn in (lambda x: rgb_to_lab(x, "D65"), lambda x: rgb_to_lab(x, "D50"),
               lambda x: imresize_matlab_batch(x, (16, 16)),
               lambda x: render(jax.random.key(0), x)):
        precisions = _dot_precisions(jax.make_jaxpr(fn)(images).jaxpr)
        assert precisions and all(p == (HIGHEST, HIGHEST) for p in precisions), precisions


def test_lab_error_equals_the_float64_reference_under_bfloat16_default_precision():
    rng = np.random.default_rng(0)
    pred, target = rng.uniform(0, 1, (2, 2, 16, 16, 3))
    mask = rng.uniform(0, 1, (2, 16, 16)) > 0.5
    reference = np.abs(rgb2lab(pred) - rgb2lab(target)).sum(-1)[mask].mean()
    with jax.default_matmul_precision("bfloat16"):
        got = metrics.lab_error(jnp.float32(pred), jnp.float32(target), mask)["shadow"]
    assert abs(float(got) - reference) < 1e-3
