"""The shipped model's second stage: a `configs/pretrain_photos.py` run continued with veiling
light over half of the training pairs and the class-balanced mask loss.

The two changes that each moved the detector on real photographs, together: veiling light
(`configs/finetune_veil.py`: haze and lens flare lift real shadows towards the lit ground, so
the detector learns lighter, flatter shadows than the renderer makes on crisp wallpapers) and
the class-balanced mask loss (`configs/finetune_balanced_mask.py`: shadow and lit pixels
weighted as BER weighs them). Veiling light alone raised the mask inside 114-5's shadow but
lost detection on the 58 detection photos; with the balanced loss the detection holds.
1,000 steps from the stage-one run (`--config.checkpoint.init_from=PATH`, e.g. the stage-one
export); everything else is `configs/finetune_photos.py`'s.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_veil.py"))
    c.loss.mask_bce = 0.0
    c.loss.mask_bce_balanced = 1.0
    return c
