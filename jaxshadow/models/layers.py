"""Small building blocks shared by the models, written in the form XLA compiles fastest.

`max_pool_2x2` computes exactly `flax.linen.max_pool(x, (2, 2), (2, 2), "VALID")` (odd edges are
dropped, as Keras and PyTorch do) but as a reshape and a max over the window axes: XLA:CPU
lowers the `reduce_window` gradient (`select_and_scatter`) to a slow generic loop, while the
gradient of a reshape + max is an elementwise select.
"""

import jax.numpy as jnp


def max_pool_2x2(x):
    """2×2 max-pool, stride 2, VALID. x: (N, H, W, C) -> (N, H // 2, W // 2, C)."""
    n, h, w, c = x.shape
    x = x[:, : h - h % 2, : w - w % 2, :]
    x = x.reshape(n, h // 2, 2, w // 2, 2, c)
    return jnp.max(x, axis=(2, 4))
