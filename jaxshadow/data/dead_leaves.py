"""Dead-leaves images: opaque discs of random sizes painted over one another.

The dead-leaves model (Matheron 1968; Lee, Mumford & Huang 2001) stacks discs whose radii follow
p(r) ∝ r^-3 between r_min and r_max. The images have natural images' scale invariance (occlusion
edges at every scale) but no fixed content. Mixed into the synthetic source's few training
photos (`RemovalTask.dead_leaves`), they show the models object edges and colour layouts the
photos lack, so a detector has to tell a shadow's edge from an object's by the edge itself
(a shadow darkens every channel by about the same ratio; an object edge need not).
"""

import jax
import jax.numpy as jnp


def dead_leaves(key, images, *, discs=96, radius=(0.025, 0.6), margin=0.15):
    """Dead-leaves images with colours taken from `images`.

    Args:
      key: PRNG key.
      images: (N, H, W, C) float: the palette. Each disc's colour is one pixel drawn uniformly
        from the whole batch.
      discs: discs per image; disc 0 covers the whole image (the background) and disc k is
        painted over discs < k.
      radius: (r_min, r_max) as fractions of the longer side; r = (r_min^-2 - u (r_min^-2 -
        r_max^-2))^(-1/2), u ~ U(0, 1), is the inverse CDF of p(r) ∝ r^-3.
      margin: centres are uniform over the image grown by `margin` (same units) on each side.

    Returns:
      (N, H, W, C) images of `images`' dtype whose every pixel is one of the palette's colours.
    """
    n, h, w, c = images.shape
    size = max(h, w)
    k_radius, k_centre, k_colour = jax.random.split(key, 3)
    r_min, r_max = radius
    u = jax.random.uniform(k_radius, (n, discs))
    r = (r_min ** -2 - u * (r_min ** -2 - r_max ** -2)) ** -0.5
    extent = jnp.array([h / size, w / size])
    centres = jax.random.uniform(k_centre, (n, discs, 2)) * (extent + 2 * margin) - margin
    flat = images.reshape(n * h * w, c)
    colours = flat[jax.random.randint(k_colour, (n, discs), 0, n * h * w)]  # (N, K, C)

    ys = (jnp.arange(h) + 0.5) / size
    xs = (jnp.arange(w) + 0.5) / size
    dy = ys[None, :, None, None] - centres[:, None, None, :, 0]  # (N, H, 1, K)
    dx = xs[None, None, :, None] - centres[:, None, None, :, 1]  # (N, 1, W, K)
    covered = dy ** 2 + dx ** 2 <= r[:, None, None, :] ** 2  # (N, H, W, K)
    top = jnp.max(jnp.where(covered, jnp.arange(discs), 0), axis=-1)  # (N, H, W); 0: uncovered
    return jax.vmap(lambda palette, index: palette[index])(colours, top)
