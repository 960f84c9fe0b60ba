"""Shadow detection: predict the shadow mask, scored by the balanced error rate (BER).

Host batch (uint8): `image` (N, H, W, 3), `mask` (N, H, W, 1) of 0/255 (255 = shadow), `index`.
Device batch after `prepare`: `input` (the image, float32 in [0, 1]) and `mask` (N, H, W, 1)
in {0, 1}; training batches get a paired random crop / flip / rotation.

With `render_shadows` (a source of shadow-free photos, `photos:PATH` or `synthetic`: the
detector of SynShadow's recipe) the host batch is `shadow_free` and `index`, and the shadows
and their masks are rendered on the device as for removal (`tasks.shadow_pairs`): `input` is
the rendered shadow image and `mask` the soft rendered mask (the cross-entropy takes it as a
soft target; the counts below threshold it at 0.5).

The loss is `losses.mask_bce` on the model's mask logits (N, H, W, 1). Evaluation follows the
field's script (SBU, ISTD): TP, TN, Np, Nn are counted over every pixel of the split
(prediction sigmoid(logits) > 0.5 against mask > 0.5), then

    BER = 100 (1 - (TP/Np + TN/Nn) / 2),  shadow error 100 (1 - TP/Np),
    non-shadow error 100 (1 - TN/Nn)

at the resolution the data is loaded at: a set of mixed sizes such as SBU needs
`data.load_size`, while the published tables score at each mask's own size.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxshadow import losses, metrics
from jaxshadow import metric_names as names
from jaxshadow.data.device_augment import paired_augment
from jaxshadow.tasks.shadow_pairs import shadow_pairs

COUNTS = ("tp", "tn", "n_pos", "n_neg")


def _pooled(counts):
    """Shadow, non-shadow error rates and BER in percent from pooled counts (floats or arrays;
    a class with no pixel counts as one, so an empty class scores 0 error, not NaN)."""
    pos, neg = jnp.maximum(counts["n_pos"], 1.0), jnp.maximum(counts["n_neg"], 1.0)
    return {names.BER: metrics.ber_from_counts(counts["tp"], counts["tn"], pos, neg),
            names.SHADOW_ERROR: 100.0 * (1.0 - counts["tp"] / pos),
            names.NON_SHADOW_ERROR: 100.0 * (1.0 - counts["tn"] / neg)}


@dataclasses.dataclass(frozen=True)
class DetectionTask:
    crop: Any = None                # training crop size (int) or None
    flip: bool = True
    rot90: bool = False
    render_shadows: bool = False    # photos / synthetic: shadows rendered on the device
    color_augment: bool = False     # rendered: color_jitter in training, before the shadows
    dead_leaves: float = 0.0        # rendered: fraction of training images made dead leaves
    veil: float = 0.0               # rendered: fraction of training images under veiling light
    shadow_config: Any = None       # rendered: jaxshadow.data.synthetic.ShadowConfig or None
    eval_seed: int = 1234           # rendered: the evaluation shadows' seed

    def prepare(self, batch, key, train):
        if self.render_shadows:
            pairs = shadow_pairs(batch, key, train, render_shadows=True, crop=self.crop,
                                 flip=self.flip, rot90=self.rot90,
                                 color_augment=self.color_augment, dead_leaves=self.dead_leaves,
                                 veil=self.veil, shadow_config=self.shadow_config,
                                 eval_seed=self.eval_seed)
            images = {"image": pairs["shadow"], "mask": pairs["mask"]}
        else:
            images = {"image": batch["image"].astype(jnp.float32) / 255.0,
                      "mask": (batch["mask"].astype(jnp.float32) / 255.0 > 0.5).astype(
                          jnp.float32)}
            if train and (self.crop or self.flip or self.rot90):
                images = paired_augment(key, images, crop=self.crop, flip=self.flip,
                                        rot90=self.rot90)
        out = {**images, "input": images["image"]}
        if "valid" in batch:
            out["valid"] = batch["valid"]
        return out

    def loss(self, logits, batch):
        """Mean binary cross-entropy of the logits, and the batch's pooled BER."""
        counts = metrics.ber_counts(jax.nn.sigmoid(logits), batch["mask"])
        pooled = {k: jnp.sum(v).astype(jnp.float32) for k, v in counts.items()}
        return losses.mask_bce(logits, batch["mask"]), {names.BER: _pooled(pooled)[names.BER]}

    def eval_sums(self, logits, batch):
        """Counts and cross-entropy summed over the valid rows."""
        valid = batch["valid"]
        counts = metrics.ber_counts(jax.nn.sigmoid(logits), batch["mask"])
        sums = {k: jnp.sum(counts[k] * valid) for k in COUNTS}
        bce = optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), batch["mask"])
        sums["loss"] = jnp.sum(jnp.mean(bce, axis=(1, 2, 3)) * valid)
        sums["count"] = jnp.sum(valid)
        return sums

    def summarize(self, sums):
        """Summed statistics over the whole split -> {'ber', 'shadow_error', 'non_shadow_error',
        'loss'} (the loss: mean over images of each image's mean cross-entropy)."""
        out = {k: float(v) for k, v in _pooled({k: float(sums[k]) for k in COUNTS}).items()}
        out["loss"] = float(sums["loss"]) / max(float(sums["count"]), 1.0)
        return out
