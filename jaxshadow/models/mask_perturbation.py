"""Random errors put into a shadow mask, so a mask-conditioned remover learns not to trust it.

A remover conditioned on a detector's mask (`JointRemover`) learns, on training images where
that mask is nearly right, to correct wherever the mask says and nowhere else. On real
photographs the detector is wrong in two ways: it marks lit material (grey sky, a bright
facade), and the remover then brightens lit pixels; and it misses parts of a shadow, which the
remover then leaves dark. Training the remover on a perturbed mask, with the true shadow-free
image as the target, teaches it to correct where the *image* shows a shadow: to pass lit
pixels through where the mask is wrong, and to correct more where the mask is weak. This is
the guidance-mask perturbation of mask-guided matting (Yu et al., "Mask Guided Matting via
Progressive Refinement Network", CVPR 2021), applied to the remover's mask only: the
detector's own logits and their loss are unchanged.

    blobs(u)  = clip((up(u) - t) / 0.1, 0, 1)          u ~ U(0, 1) on a 5 × 5 lattice, `up` its
                                                       bilinear upsampling to H × W, t ~ U(0.45,
                                                       0.85): a few soft regions, 5-55 % of the
                                                       frame, as large as the detector's mistakes
    perturbed = max(m (1 - b · blobs(u_miss)), a · blobs(u_false))    a, b ~ U(0.3, 1)

per image with probability `rate` (the other images keep m exactly). mask (N, H, W, 1) in
[0, 1] -> (N, H, W, 1) in [0, 1], differentiable in m.
"""

import jax
import jax.numpy as jnp

LATTICE = 5
EDGE = 0.1


def random_regions(key, n, height, width):
    """(n, height, width, 1) soft random regions in [0, 1] (the `blobs` above)."""
    lattice_key, level_key = jax.random.split(key)
    lattice = jax.random.uniform(lattice_key, (n, LATTICE, LATTICE, 1))
    field = jax.image.resize(lattice, (n, height, width, 1), "linear")
    level = jax.random.uniform(level_key, (n, 1, 1, 1), minval=0.45, maxval=0.85)
    return jnp.clip((field - level) / EDGE, 0.0, 1.0)


def perturb_mask(key, mask, rate):
    """The mask with false and missed regions added to a `rate` fraction of the images."""
    n, height, width, _ = mask.shape
    keys = jax.random.split(key, 4)
    missed = random_regions(keys[0], n, height, width)
    false = random_regions(keys[1], n, height, width)
    strength = jax.random.uniform(keys[2], (2, n, 1, 1, 1), minval=0.3, maxval=1.0)
    perturbed = jnp.maximum(mask * (1.0 - strength[0] * missed), strength[1] * false)
    chosen = jax.random.uniform(keys[3], (n, 1, 1, 1)) < rate
    return jnp.where(chosen, perturbed, mask)
