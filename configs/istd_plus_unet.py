"""ISTD+ (ISTD with the colour-adjusted ground truth of Le & Samaras, ICCV 2019): a mask-free
U-Net on 256×256 crops, AdamW, cosine schedule.

    jaxshadow train --config configs/istd_plus_unet.py --workdir runs/istd_plus \
        --config.data.source=istd_plus:/path/to/ISTD_Dataset
    jaxshadow eval --workdir runs/istd_plus --white D50

The folder is ISTD's as downloaded: the colour adjustment of the shadow-free images is
computed on load (`jaxshadow.data.istd_plus`).
"""

from jaxshadow.recipes import unet_removal


def get_config():
    return unet_removal("istd_plus:data/ISTD_Dataset")
