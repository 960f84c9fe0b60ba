"""ISTD+ with `shadowformer` and its paper's training settings (`jaxshadow.recipes.zoo_removal`).

    jaxshadow train --config configs/istd_plus_shadowformer.py --workdir runs/shadowformer \
        --config.data.source=istd_plus:/path/to/ISTD_Dataset
    jaxshadow eval --workdir runs/shadowformer --white D50

Published weights of the official PyTorch code import instead of training:

    jaxshadow import-weights --arch shadowformer --torch CHECKPOINT.pth --out shadowformer.msgpack
"""

from jaxshadow.recipes import zoo_removal


def get_config():
    return zoo_removal("shadowformer")
