"""SRD (Qu et al., CVPR 2017): a mask-free U-Net on 256×256 crops, AdamW, cosine schedule.

    jaxshadow train --config configs/srd_unet.py --workdir runs/srd \
        --config.data.source=srd:/path/to/SRD --config.data.mask_dir=/path/to/SRD_masks
    jaxshadow eval --workdir runs/srd --white D50

SRD ships no shadow masks; the shadow / non-shadow errors need a mask folder of your own
(papers use the masks released with DHAN, Cun et al. 2020). 2,680 training pairs at 840×640,
27,000 steps of 16 crops ≈ 160 epochs. The decoded training set takes about 9 GB of memory;
`--config.data.load_size="(480, 630)"` resizes on load to a quarter less per side.
"""

from jaxshadow.recipes import unet_removal


def get_config():
    return unet_removal("srd:data/SRD", steps=27_000)
