"""Device-side preparation of shadow / shadow-free pairs, shared by removal and detection.

    shadow_pairs(batch, key, train, ...) -> {"shadow", "shadow_free", "mask"} float32

Host batch (uint8): `shadow_free` (N, H, W, 3) and `index` (N,); real pairs also `shadow`
(N, H, W, 3) and `mask` (N, H, W, 1); a mixture marks with `rendered` (N,) which rows get
rendered shadows. Training: a paired random crop / flip / rotation, optional recolouring and
dead-leaves images in place of some photos, then shadows from
`jaxshadow.data.synthetic.render`, then optional veiling light over both images (`add_veil`);
evaluation: the fixed shadows of `eval_shadows` (keys from
(eval_seed, example index)), the same at every evaluation and in every run. Images are in
[0, 1]; the mask is soft (the penumbra), 1 in the umbra.
"""

import jax
import jax.numpy as jnp

from jaxshadow.data.device_augment import (add_veil, color_jitter, eval_shadows,
                                           mix_dead_leaves, paired_augment)
from jaxshadow.data.synthetic import render


def shadow_pairs(batch, key, train, *, render_shadows, crop=None, flip=True, rot90=False,
                 color_augment=False, dead_leaves=0.0, veil=0.0, shadow_config=None,
                 eval_seed=1234):
    """The float32 images of one batch, augmented and (for rendering sources) shadowed."""
    augment_key, render_key = jax.random.split(key)
    images = {k: batch[k].astype(jnp.float32) / 255.0
              for k in ("shadow", "shadow_free", "mask") if k in batch}
    if train and (crop or flip or rot90):
        images = paired_augment(augment_key, images, crop=crop, flip=flip, rot90=rot90)
    if train and color_augment:
        rgb = {k: images[k] for k in ("shadow", "shadow_free") if k in images}
        images.update(color_jitter(jax.random.fold_in(key, 2), rgb))
    if render_shadows:
        # a mixture (jaxshadow.data.mixture) marks which rows get rendered shadows
        rendered = batch["rendered"] > 0 if "rendered" in batch else None
        if train:
            if dead_leaves > 0:
                images["shadow_free"] = mix_dead_leaves(
                    jax.random.fold_in(key, 3), images["shadow_free"], dead_leaves, rendered)
            shadow, mask = render(render_key, images["shadow_free"], config=shadow_config)
        else:
            shadow, mask = eval_shadows(eval_seed, batch["index"], images["shadow_free"],
                                        shadow_config)
        if rendered is not None:  # real pairs keep their own shadow and mask
            pick = rendered[:, None, None, None]
            shadow = jnp.where(pick, shadow, images["shadow"])
            mask = jnp.where(pick, mask, images["mask"])
        images["shadow"], images["mask"] = shadow, mask
    if train and veil > 0:  # after the shadows: the same scattered light over both images
        rgb = {k: images[k] for k in ("shadow", "shadow_free") if k in images}
        images.update(add_veil(jax.random.fold_in(key, 4), rgb, veil))
    if "mask" not in images:
        images["mask"] = jnp.zeros_like(images["shadow"][..., :1])
    return images
