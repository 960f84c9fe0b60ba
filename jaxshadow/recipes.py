"""Shared settings of the paired-dataset removal recipes (configs/istd_unet.py and friends).

A mask-free `unet` (the published ST-CGAN / DSC / DHAN setting: the shadow mask is not an
input at test time) trained on random 256×256 crops with flips, AdamW and a warmup + cosine
schedule, evaluated on the full-size test images every 2,000 steps.
"""

from jaxshadow import metric_names as names
from jaxshadow.config import defaults


def unet_removal(source, *, steps=40_000):
    """The recipe config for the folder dataset `source` (e.g. "istd:/data/ISTD_Dataset")."""
    c = defaults()
    c.task = "removal"
    c.model.name = "unet"
    c.data.source = source
    c.data.crop = 256
    c.data.flip = True
    c.data.rot90 = False
    c.steps = steps
    c.batch_size = 16
    c.eval_batch_size = 8
    c.log_every = 100
    c.eval_every = 2_000
    c.checkpoint_every = 2_000
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 5e-4
    c.optimizer.weight_decay = 1e-4
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 1_000
    c.optimizer.end_learning_rate_factor = 0.01
    c.optimizer.grad_clip_norm = 1.0
    c.loss.l1 = 1.0
    c.checkpoint.keep_best = 1
    c.checkpoint.best_metric = names.EVAL_PREFIX + names.LAB_ALL
    c.checkpoint.best_mode = "min"
    return c
