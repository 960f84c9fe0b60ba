"""ISTD+ with `nafnet` and its paper's training settings (`jaxshadow.recipes.zoo_removal`).

    jaxshadow train --config configs/istd_plus_nafnet.py --workdir runs/nafnet \
        --config.data.source=istd_plus:/path/to/ISTD_Dataset
    jaxshadow eval --workdir runs/nafnet --white D50

Published weights of the official PyTorch code import instead of training:

    jaxshadow import-weights --arch nafnet --torch CHECKPOINT.pth --out nafnet.msgpack
"""

from jaxshadow.recipes import zoo_removal


def get_config():
    return zoo_removal("nafnet")
