"""A `configs/pretrain_photos.py` run continued with the remover trained on perturbed masks.

On real photographs the first stage's detector marks some lit material as shadow (the remover then
brightens lit pixels) and fills large shadows only weakly (the remover then leaves them dark),
while on its rendered training views the mask it hands the remover is nearly right. This
recipe continues from a photos run's parameters with half of the training images giving the
remover a mask with false and missed regions added (`JointRemover.mask_perturbation`, see
`jaxshadow.models.mask_perturbation`), the target still the true shadow-free photo, so the
remover learns to correct where the image shows a shadow and to pass lit pixels through where
the mask is wrong. Everything else, and how to pass the run to continue, is
`configs/finetune_photos.py`'s.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_photos.py"))
    c.model.mask_perturbation = 0.5
    return c
