"""Shadow detection alone: `shadow_detector` on an SBU-style folder (images/ + masks/).

Set the folder with `--config.data.source=detection:/path/to/SBU` where it holds
`train/{images,masks}` and `test/{images,masks}` (SBU ships them as
SBUTrain4KRecoveredSmall/{ShadowImages,ShadowMasks} and SBU-Test/{ShadowImages,ShadowMasks}:
link or rename them), or one flat `images/` + `masks/` pair, of which a seeded 10 % is held out.
SBU's images have mixed sizes, so every image and mask is resized to 320×320 when loaded and
the BER is computed at that size (the published tables score at each mask's own size).
Random 256² crops with flips, batch 16, AdamW 1e-3 with warmup and cosine decay; the test split
is scored every 2,000 steps and the checkpoint with the lowest BER is kept.
"""

from jaxshadow.config import defaults


def get_config():
    c = defaults()
    c.task = "detection"
    c.model.name = "shadow_detector"
    c.model.illumination_features = True  # chromaticity and log intensity as extra channels
    c.data.source = "detection:/path/to/SBU"
    c.data.load_size = (320, 320)
    c.data.crop = 256
    c.data.flip = True
    c.steps = 20_000
    c.batch_size = 16
    c.eval_batch_size = 8
    c.log_every = 100
    c.eval_every = 2_000
    c.checkpoint_every = 2_000
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.weight_decay = 1e-4
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 500
    c.optimizer.grad_clip_norm = 1.0
    c.checkpoint.keep_best = 1
    c.checkpoint.best_metric = "eval_ber"
    c.checkpoint.best_mode = "min"
    return c
