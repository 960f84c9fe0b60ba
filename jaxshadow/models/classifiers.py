"""Image classifiers: layer-for-layer ports of the Keras MNIST convnet examples.

Outputs are logits (softmax belongs to the loss). Convolutions use VALID padding as in Keras,
and `Flatten` flattens (H, W, C) in row-major order, which is also Keras' channels-last order,
so weights copy across unchanged. Convolutions are `nn.Conv` with the faster gradients of
`layers.conv_general_dilated` (same function, same parameters).
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxshadow.models.layers import conv_general_dilated, max_pool_2x2


class CNNTiny(nn.Module):
    """Conv 32 3×3 ReLU → MaxPool 2×2 → Flatten → Dense classes.

    54,410 parameters on 28×28×1 with 10 classes. x: (N, H, W, C) -> logits (N, classes).
    """

    num_classes: int = 10
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        conv = lambda f, name: nn.Conv(f, (3, 3), padding="VALID", dtype=self.dtype,
                                       param_dtype=self.param_dtype, name=name,
                                       conv_general_dilated=conv_general_dilated)
        x = jnp.asarray(x, self.dtype)
        x = max_pool_2x2(nn.relu(conv(32, "conv1")(x)))
        x = x.reshape(x.shape[0], -1)
        x = nn.Dense(self.num_classes, dtype=self.dtype, param_dtype=self.param_dtype,
                     name="logits")(x)
        return x.astype(jnp.float32)


class CNNSmall(nn.Module):
    """Conv 32 → MaxPool → Conv 64 → MaxPool → Conv 64 → Flatten → Dense 64 → Dense classes.

    All convolutions 3×3 VALID with ReLU; 93,322 parameters on 28×28×1 with 10 classes.
    x: (N, H, W, C) -> logits (N, classes).
    """

    num_classes: int = 10
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        conv = lambda f, name: nn.Conv(f, (3, 3), padding="VALID", dtype=self.dtype,
                                       param_dtype=self.param_dtype, name=name,
                                       conv_general_dilated=conv_general_dilated)
        dense = lambda f, name: nn.Dense(f, dtype=self.dtype, param_dtype=self.param_dtype,
                                         name=name)
        x = jnp.asarray(x, self.dtype)
        x = max_pool_2x2(nn.relu(conv(32, "conv1")(x)))
        x = max_pool_2x2(nn.relu(conv(64, "conv2")(x)))
        x = nn.relu(conv(64, "conv3")(x))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(dense(64, "dense1")(x))
        return dense(self.num_classes, "logits")(x).astype(jnp.float32)
