"""A `configs/pretrain_photos.py` run continued with a class-balanced mask loss.

The first stage's detector under-fills large real shadows: on the ISTD photo 114-5 it traces the
outline of the sign's shadow but its mask averages 0.17 inside it (README: "Real photographs").
With the plain per-pixel cross-entropy, a shadow covering a minority of a training crop weighs
less than the lit rest, so an uncertain pixel is cheapest called lit. This recipe continues
from a photos run's parameters with the detector's loss balanced between the two classes
(`losses.mask_bce_balanced`: shadow pixels weighted by the batch's lit fraction, lit pixels by
its shadow fraction), which is what BER, the detection metric, weighs too. 1,000 steps;
everything else, and how to pass the run to continue, is `configs/finetune_photos.py`'s.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("finetune_photos.py"))
    c.steps = 1000
    c.loss.mask_bce = 0.0
    c.loss.mask_bce_balanced = 1.0
    return c
