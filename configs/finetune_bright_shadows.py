"""A `configs/pretrain_photos.py` run continued with shadows cast on the brightest surfaces.

On real photographs the first stage's detector judges darkness relative to the view: a shadow across
a white sign stays among the brightest surfaces and is missed, while lit asphalt, shaded walls
and dark foliage, darker than the sign, are marked (README: "Real photographs"). Its training
shadows fell anywhere, so they mostly darkened surfaces of middling brightness and left the
brightest lit. This recipe continues from a photos run's parameters with half of the training
shadows centred on a pixel among the brightest 20 % of the view (`data.bright_shadows`) and 30 %
of them darkened mildly, a white surface keeping sRGB 0.6-0.9 (`data.mild_shadows`; see
`jaxshadow.data.synthetic`, item 5), so that relative darkness stops separating shadow from
light. The rendered test set is unchanged (`eval_shadows` ignores both), so its figures compare
with the first stage's. Everything else, and how to pass the run to continue, is
`configs/finetune_photos.py`'s.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_photos.py"))
    c.data.bright_shadows = 0.5
    c.data.mild_shadows = 0.3
    return c
