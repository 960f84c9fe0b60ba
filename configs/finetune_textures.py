"""A `configs/pretrain_photos.py` run continued on wallpapers and photographed surface textures.

The wallpapers of `configs/pretrain_photos.py` are mostly landscapes, skies and graphics; the
photographs the field evaluates on (ISTD, SRD, SBU) are ground-level scenes: pavement, grass,
walls, doors, signs, where dark materials and painted marks sit next to real shadows. This
recipe continues from a photos run's parameters on a 50/50 mixture of the same wallpapers
and the photographed textures of the game UFO: Alien Invasion (Debian package
`ufoai-textures`: concrete, asphalt, tiles, brick, wood, grass, soil, metal, signs; GPL-2+,
CC-BY-3.0 and CC-BY-SA-3.0 per file, /usr/share/doc/ufoai-textures/copyright), unpacked
without their normal, specular and gloss maps (README: "Training the shipped model"):

    unzip -q /usr/share/games/ufoai/base/0textures.pk3 -d ~/data/ufoai-textures \
        'textures/tex_'{streets,nature,buildings,material,terrain,dirt,mattn,misc}'/*' \
        -x '*_nm.*' '*_sm.*' '*_gm.*'

Everything else (views, crops, the renderer's "photo" preset, recolouring, dead leaves, the
model), the continuation's schedule and how to pass the run to continue are
`configs/finetune_photos.py`'s. Measured from the first stage it is an ablation, not
the shipped model: the README's table of real-photograph figures has its rows.
"""

import os
from pathlib import Path

from jaxshadow import config as config_lib

TEXTURES = os.path.expanduser("~/data/ufoai-textures")


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_photos.py"))
    wallpapers = c.data.source  # pretrain_photos's photos:FOLDERS
    c.data.source = "mixture"
    c.data.mixture = ((wallpapers, 0.5), (f"photos:{TEXTURES}", 0.5))
    c.data.mix_size = c.data.photo_size
    return c
