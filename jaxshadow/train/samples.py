"""Before/after grids of a removal run: WORKDIR/samples/step_<S>.png and TensorBoard "samples".

The same first `count` test examples (with the same rendered shadows) at every evaluation, one
row each: input | model output | ground truth | predicted mask | ground-truth mask. Masks are
drawn grey; a model without a mask output gets a black mask column.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxshadow.data.pipeline import eval_batches
from jaxshadow.files import atomic_write, png_bytes
from jaxshadow.train.mesh import replicated

COLUMNS = ("input", "output", "ground truth", "predicted mask", "true mask")
GAP = 2  # white pixels between tiles


def grid_image(columns):
    """(N, H, W, 3) float arrays in [0, 1], one per column -> (N·(H+GAP)-GAP, …, 3) uint8 grid."""
    n, h, w, _ = columns[0].shape
    out = np.full((n * (h + GAP) - GAP, len(columns) * (w + GAP) - GAP, 3), 255, np.uint8)
    for j, column in enumerate(columns):
        tiles = np.round(np.clip(np.asarray(column, np.float32), 0.0, 1.0) * 255).astype(np.uint8)
        for i in range(n):
            out[i * (h + GAP): i * (h + GAP) + h, j * (w + GAP): j * (w + GAP) + w] = tiles[i]
    return out


class SampleWriter:
    """Renders the grid for the model's variables and writes it (process 0 only)."""

    def __init__(self, run, workdir, count):
        self.directory = os.path.join(workdir, "samples")
        batch = next(iter(eval_batches(run.source, "test", batch_size=count)))
        self.batch = {k: v[: int(np.sum(batch["valid"]))] for k, v in batch.items()}
        model, task = run.model, run.task

        @functools.partial(jax.jit, out_shardings=replicated(run.mesh))  # every process reads it
        def columns(variables, batch):
            batch = task.prepare(batch, jax.random.key(0), train=False)
            outputs = model.apply(variables, batch["input"], train=False)
            pred_mask = (jax.nn.sigmoid(outputs["mask_logits"]) if "mask_logits" in outputs
                         else jnp.zeros_like(batch["mask"]))
            gray = lambda m: jnp.repeat(m, 3, axis=-1)
            return [batch["shadow"], outputs["shadow_free"], batch["shadow_free"],
                    gray(pred_mask), gray(batch["mask"])]

        self._columns = columns

    def write(self, variables, step, reporter):
        """Writes samples/step_<step>.png atomically and the grid to TensorBoard, for the
        model's `variables` (`steps.eval_variables(state)`)."""
        grid = grid_image(jax.device_get(self._columns(variables, self.batch)))
        if not reporter.is_writer:
            return
        os.makedirs(self.directory, exist_ok=True)
        atomic_write(os.path.join(self.directory, f"step_{step:06d}.png"),
                     png_bytes(Image.fromarray(grid)))
        reporter.images(step, {"samples": grid[None]})
