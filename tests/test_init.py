"""Initialisation is compiled without XLA's backend optimisations (it runs once per run): the
parameters it draws are those of the default compilation to float32 rounding, and finite."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import models
from jaxshadow.train.state import INIT_COMPILER_OPTIONS


def test_fast_compiled_init_draws_the_default_parameters():
    model = models.get("joint", detector_features=(8,), remover_features=(8,),
                       shadow_params=True, boundary_moments=True)
    x = jnp.zeros((1, 16, 16, 3))
    fast = jax.jit(model.init, compiler_options=INIT_COMPILER_OPTIONS)(jax.random.key(0), x)
    default = jax.jit(model.init)(jax.random.key(0), x)
    assert INIT_COMPILER_OPTIONS["xla_backend_optimization_level"] == 0
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(default)):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * float(np.abs(b).max() or 1.0))
