"""ISTD (Wang et al., CVPR 2018): a mask-free U-Net on 256×256 crops, AdamW, cosine schedule.

    jaxshadow train --config configs/istd_unet.py --workdir runs/istd \
        --config.data.source=istd:/path/to/ISTD_Dataset
    jaxshadow eval --workdir runs/istd --white D50     # the published tables' protocol

1,330 training triplets (train_A/B/C), 540 test; 40,000 steps of 16 crops ≈ 480 epochs. Add
--config.data.mask_input=True to compare with mask-guided methods (the ground-truth mask
becomes a 4th input channel; such a run needs a mask to predict).
"""

from jaxshadow.recipes import unet_removal


def get_config():
    return unet_removal("istd:data/ISTD_Dataset")
