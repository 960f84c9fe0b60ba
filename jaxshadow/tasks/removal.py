"""Shadow removal: predict the shadow-free image (and, for `joint`, the shadow mask).

Host batch (uint8): `shadow_free` (N, H, W, 3), `index` (N,), and for real datasets `shadow`
(N, H, W, 3) and `mask` (N, H, W, 1); for the synthetic source the shadow and its mask are
rendered on the device (`jaxshadow.data.synthetic.render`). Training batches get a paired random
crop / flip / rotation (and, for the synthetic source, optional recolouring and dead-leaves
images in place of some photos, before the shadows are rendered); evaluation shadows use keys
folded from (eval_seed, example index), so the evaluation set is the same at every evaluation
and in every run.

Device batch after `prepare`: `input` (the shadow image, plus the mask as a 4th channel when
`mask_input`), `shadow`, `shadow_free`, `mask` (N, H, W, 1) float32 in [0, 1].

Evaluation follows the field: LAB error (|ΔL|+|Δa|+|Δb| per pixel; `white` D65, or D50 as
MATLAB's `makecform('srgb2lab')`) over the shadow, non-shadow and all pixels, pooled over every
pixel of the split (Le & Samaras) and averaged per image, plus PSNR and SSIM, for the model and
for the input itself (the identity baseline). With `eval_size=S` every metric is also computed
after resizing prediction, target and mask to S×S as the published evaluation scripts do
(MATLAB `imresize`, bicubic, on [0, 1] doubles; the binary mask resized and any non-zero uint8
value counted as shadow); those keys end in `_S`.
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxshadow import losses, metrics
from jaxshadow import metric_names as names
from jaxshadow.resize import imresize_matlab_batch
from jaxshadow.tasks.shadow_pairs import shadow_pairs



def _per_image_sums(pred, target, mask, valid, white):
    """Pooled sums, per-image means and their counts for one prediction, over valid images."""
    sums = metrics.lab_error_sums(pred, target, mask, white=white)
    out = {}
    for region in names.LAB_REGIONS:
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
    render_shadows: bool            # synthetic / photos / mixture: render shadows on the device
    loss_weights: tuple             # ((term, weight), ...), terms of jaxshadow.losses
    crop: Any = None                # training crop size (int) or None
    flip: bool = True
    rot90: bool = False
    color_augment: bool = False     # color_jitter in training (before rendering synthetic shadows)
    dead_leaves: float = 0.0        # synthetic: fraction of training images made dead leaves
    veil: float = 0.0               # fraction of training pairs under veiling light (add_veil)
    mask_input: bool = False        # feed the mask as a 4th input channel
    eval_seed: int = 1234
    shadow_config: Any = None       # jaxshadow.data.synthetic.ShadowConfig or None
    white: str = "D65"              # Lab white point of the evaluation: "D65" or "D50"
    eval_size: Any = None           # also evaluate at eval_size × eval_size (int) when set

    def prepare(self, batch, key, train):
        images = shadow_pairs(batch, key, train, render_shadows=self.render_shadows,
                              crop=self.crop, flip=self.flip, rot90=self.rot90,
                              color_augment=self.color_augment, dead_leaves=self.dead_leaves,
                              veil=self.veil, shadow_config=self.shadow_config,
                              eval_seed=self.eval_seed)
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
        pred = jnp.clip(outputs["shadow_free"], 0.0, 1.0)
        images = {"model": pred, "input": batch["shadow"], "target": batch["shadow_free"],
                  "mask": batch["mask"]}
        sums = self._protocol_sums(images, valid, suffix="")
        if self.eval_size:
            size = (self.eval_size, self.eval_size)
            resized = {k: imresize_matlab_batch(v, size) for k, v in images.items() if k != "mask"}
            binary = (images["mask"] > 0.5).astype(jnp.float32)
            # MATLAB: imresize of the uint8 mask, then any non-zero value is shadow.
            resized["mask"] = (imresize_matlab_batch(binary, size) * 255.0 >= 0.5).astype(jnp.float32)
            sums.update(self._protocol_sums(resized, valid, suffix=f"_{self.eval_size}"))
        sums["count"] = jnp.sum(valid)
        if "mask_logits" in outputs:
            counts = metrics.ber_counts(jax.nn.sigmoid(outputs["mask_logits"]), images["mask"])
            sums.update({f"ber_{k}": jnp.sum(v * valid) for k, v in counts.items()})
        return sums

    def _protocol_sums(self, images, valid, suffix):
        """Sums for the model's and the input's images against the target, keys ending in suffix."""
        sums = {}
        for who in ("model", "input"):
            for k, v in _per_image_sums(images[who], images["target"], images["mask"], valid,
                                        self.white).items():
                sums[f"{who}_{k}{suffix}"] = v
        return sums

    def summarize(self, sums):
        """-> {'lab_shadow', 'lab_non_shadow', 'lab_all' (pixel-pooled), '..._per_image',
        'psnr', 'ssim'} for the model, the same prefixed 'input_' for the input, 'ber', and with
        `eval_size` S the same again with keys ending in '_S'."""
        sums = {k: float(v) for k, v in sums.items()}
        count = max(sums["count"], 1.0)
        out = {}
        for who in ("model", "input"):
            key = functools.partial(names.removal_key, of_input=who == "input")
            for size in [None] + ([self.eval_size] if self.eval_size else []):
                s = f"_{size}" if size else ""
                for region in names.LAB_REGIONS:
                    lab = names.lab_key(region)
                    pixels = sums[f"{who}_{lab}_count{s}"]
                    images = sums[f"{who}_{lab}_images{s}"]
                    out[key(lab, size=size)] = (sums[f"{who}_{lab}_sum{s}"] / pixels
                                                if pixels else float("nan"))
                    out[key(lab, per_image=True, size=size)] = (
                        sums[f"{who}_{lab}_image_sum{s}"] / images if images else float("nan"))
                out[key(names.PSNR, size=size)] = sums[f"{who}_psnr_sum{s}"] / count
                out[key(names.SSIM, size=size)] = sums[f"{who}_ssim_sum{s}"] / count
        if "ber_tp" in sums:
            pos, neg = max(sums["ber_n_pos"], 1.0), max(sums["ber_n_neg"], 1.0)
            out[names.BER] = metrics.ber_from_counts(sums["ber_tp"], sums["ber_tn"], pos, neg)
        return out
