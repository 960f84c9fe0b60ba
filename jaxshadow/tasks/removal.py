"""Shadow removal: predict the shadow-free image (and, for `joint`, the shadow mask).

Host batch (uint8): `shadow_free` (N, H, W, 3), `index` (N,), and for real datasets `shadow`
(N, H, W, 3) and `mask` (N, H, W, 1); for the synthetic source the shadow and its mask are
rendered on the device (`jaxshadow.data.synthetic.render`). Training batches get a paired random
crop / flip / rotation; evaluation shadows use keys folded from (eval_seed, example index), so
the evaluation set is the same at every evaluation and in every run.

Device batch after `prepare`: `input` (the shadow image, plus the mask as a 4th channel when
`mask_input`), `shadow`, `shadow_free`, `mask` (N, H, W, 1) float32 in [0, 1].

Evaluation follows the field: LAB error (|ΔL|+|Δa|+|Δb| per pixel, D65) over the shadow,
non-shadow and all pixels, pooled over every pixel of the split (Le & Samaras) and averaged per
image, plus PSNR and SSIM, for the model and for the input itself (the identity baseline).
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxshadow import losses, metrics
from jaxshadow.data.augment import paired_augment
from jaxshadow.data.synthetic import render

REGIONS = ("shadow", "non_shadow", "all")


def _per_image_sums(pred, target, mask, valid):
    """Pooled sums, per-image means and their counts for one prediction, over valid images."""
    sums = metrics.lab_error_sums(pred, target, mask)
    out = {}
    for region in REGIONS:
        total, count = sums[f"{region}_sum"], sums[f"{region}_count"].astype(jnp.float32)
        has = valid * (count > 0)
        out[f"lab_{region}_sum"] = jnp.sum(total * valid)
        out[f"lab_{region}_count"] = jnp.sum(count * valid)
        out[f"lab_{region}_image_sum"] = jnp.sum(has * total / jnp.maximum(count, 1.0))
        out[f"lab_{region}_images"] = jnp.sum(has)
    out["psnr_sum"] = jnp.sum(metrics.psnr(pred, target) * valid)
    out["ssim_sum"] = jnp.sum(metrics.ssim(pred, target) * valid)
    return out


@dataclasses.dataclass(frozen=True)
class RemovalTask:
    render_shadows: bool            # synthetic source: render shadows on the device
    loss_weights: tuple             # ((term, weight), ...), terms of jaxshadow.losses
    crop: Any = None                # training crop size (int) or None
    flip: bool = True
    rot90: bool = False
    mask_input: bool = False        # feed the mask as a 4th input channel
    eval_seed: int = 1234
    shadow_config: Any = None       # jaxshadow.data.synthetic.ShadowConfig or None

    def prepare(self, batch, key, train):
        augment_key, render_key = jax.random.split(key)
        images = {k: batch[k].astype(jnp.float32) / 255.0
                  for k in ("shadow", "shadow_free", "mask") if k in batch}
        if train and (self.crop or self.flip or self.rot90):
            images = paired_augment(augment_key, images, crop=self.crop, flip=self.flip,
                                    rot90=self.rot90)
        if self.render_shadows:
            if train:
                shadow, mask = render(render_key, images["shadow_free"],
                                      config=self.shadow_config)
            else:
                keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(self.eval_seed), i))(
                    batch["index"])
                shadow, mask = jax.vmap(lambda k, im: jax.tree.map(
                    lambda a: a[0], render(k, im[None], config=self.shadow_config)))(
                        keys, images["shadow_free"])
            images["shadow"], images["mask"] = shadow, mask
        if "mask" not in images:
            images["mask"] = jnp.zeros_like(images["shadow"][..., :1])
        inputs = images["shadow"]
        if self.mask_input:
            inputs = jnp.concatenate([inputs, images["mask"]], axis=-1)
        out = {**images, "input": inputs}
        if "valid" in batch:
            out["valid"] = batch["valid"]
        return out

    def loss(self, outputs, batch):
        total, terms = losses.removal_loss(outputs, batch, dict(self.loss_weights))
        return total, terms

    def eval_sums(self, outputs, batch):
        valid = batch["valid"]
        if not isinstance(outputs, dict):
            outputs = {"shadow_free": outputs}
        pred = jnp.clip(outputs["shadow_free"], 0.0, 1.0)
        target, mask = batch["shadow_free"], batch["mask"]
        sums = {f"model_{k}": v for k, v in _per_image_sums(pred, target, mask, valid).items()}
        sums.update({f"input_{k}": v for k, v in
                     _per_image_sums(batch["shadow"], target, mask, valid).items()})
        sums["count"] = jnp.sum(valid)
        if "mask_logits" in outputs:
            counts = metrics.ber_counts(jax.nn.sigmoid(outputs["mask_logits"]), mask)
            sums.update({f"ber_{k}": jnp.sum(v * valid) for k, v in counts.items()})
        return sums

    def summarize(self, sums):
        """-> {'lab_shadow', 'lab_non_shadow', 'lab_all' (pixel-pooled), '..._per_image',
        'psnr', 'ssim'} for the model, the same prefixed 'input_' for the input, and 'ber'."""
        sums = {k: float(v) for k, v in sums.items()}
        count = max(sums["count"], 1.0)
        out = {}
        for who, prefix in (("model", ""), ("input", "input_")):
            for region in REGIONS:
                pixels = sums[f"{who}_lab_{region}_count"]
                images = sums[f"{who}_lab_{region}_images"]
                out[f"{prefix}lab_{region}"] = (sums[f"{who}_lab_{region}_sum"] / pixels
                                                if pixels else float("nan"))
                out[f"{prefix}lab_{region}_per_image"] = (
                    sums[f"{who}_lab_{region}_image_sum"] / images if images else float("nan"))
            out[f"{prefix}psnr"] = sums[f"{who}_psnr_sum"] / count
            out[f"{prefix}ssim"] = sums[f"{who}_ssim_sum"] / count
        if "ber_tp" in sums:
            pos, neg = max(sums["ber_n_pos"], 1.0), max(sums["ber_n_neg"], 1.0)
            out["ber"] = 100.0 * (1.0 - 0.5 * (sums["ber_tp"] / pos + sums["ber_tn"] / neg))
        return out
