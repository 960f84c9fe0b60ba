"""Finding the first step whose loss or gradient norm is NaN or infinite, without a sync per step.

The loop hands each step's metrics to `add` (device arrays, nothing is fetched); `first_bad`
fetches the pending ones at once (at log and checkpoint steps) and returns the first bad step,
so a checkpoint is only written after every step before it was checked.
"""

import math

import jax


class NonFiniteWatch:
    """Collects (step, loss, grad_norm) device scalars until they are checked."""

    def __init__(self):
        self._pending = []

    def add(self, step, metrics):
        self._pending.append((step, metrics["loss"], metrics["grad_norm"]))

    def first_bad(self):
        """(step, loss, grad_norm) of the first pending step with a non-finite value, or None.

        Clears the pending steps.
        """
        pending, self._pending = jax.device_get(self._pending), []
        for step, loss, grad_norm in pending:
            if not (math.isfinite(float(loss)) and math.isfinite(float(grad_norm))):
                return int(step), float(loss), float(grad_norm)
        return None
