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


def zoo_removal(arch, source="istd_plus:data/ISTD_Dataset"):
    """The published training settings of the zoo's architectures, on `source`.

    nafnet (Chen et al. 2022, the official SIDD option file): 256² crops, no flips, batch 64
    (8 GPUs × 8), AdamW lr 1e-3, betas (0.9, 0.9), no weight decay, cosine to 1e-7 over
    400,000 iterations, PSNR loss. The image alone is the input (mask-free).
    shadowformer (Guo et al. 2023, the official options for ISTD at full resolution): window
    10, 320² crops with flips, RGB + ground-truth mask as input, batch 7, AdamW lr 2e-4, weight
    decay 0.02, 3 warmup epochs then cosine to 1e-6 over 500 epochs (ISTD's 1,330 training
    pairs: 190 steps an epoch, 95,000 steps), Charbonnier loss (eps 1e-3).
    Both are evaluated at full resolution (`predict_size` 0), as the papers report.
    """
    c = unet_removal(source)
    c.predict_size = 0
    c.optimizer.name = "adamw"
    c.optimizer.grad_clip_norm = 0.0
    c.loss.l1 = 0.0
    if arch == "nafnet":
        c.model.name = "nafnet"
        c.data.crop = 256
        c.data.flip = False
        c.batch_size = 64
        c.steps = 400_000
        c.optimizer.learning_rate = 1e-3
        c.optimizer.b2 = 0.9
        c.optimizer.weight_decay = 0.0
        c.optimizer.schedule = "cosine"
        c.optimizer.warmup_steps = 0
        c.optimizer.end_learning_rate_factor = 1e-4
        c.loss.psnr = 1.0
    elif arch == "shadowformer":
        c.model.name = "shadowformer"
        c.model.win_size = 10
        c.data.crop = 320
        c.data.flip = True
        c.data.mask_input = True
        c.batch_size = 7
        c.steps = 95_000
        c.optimizer.learning_rate = 2e-4
        c.optimizer.weight_decay = 0.02
        c.optimizer.schedule = "warmup_cosine"
        c.optimizer.warmup_steps = 570
        c.optimizer.end_learning_rate_factor = 0.005
        c.loss.charbonnier = 1.0
    else:
        raise ValueError(f"no zoo recipe for '{arch}'")
    c.eval_every = c.checkpoint_every = 5_000
    return c
