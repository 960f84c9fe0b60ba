"""`configs/finetune_photos.py` with veiling light over half of the training pairs.

Haze and lens flare add the same light to lit and shaded surfaces, so in a photograph a cast
shadow is often lighter and flatter than the renderer makes it on crisp wallpapers
(`jaxshadow.data.device_augment.add_veil`: in linear RGB y = (1 - v) x + v a, v up to 0.2,
added after the shadows to the shadow image and its target alike). 1,000 steps.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_photos.py"))
    c.data.veil = 0.5
    c.steps = 1000
    return c
