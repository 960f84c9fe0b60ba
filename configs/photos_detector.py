"""A shadow detector trained alone on synthetic shadows cast over many real photographs.

The detector half of the shipped model, trained the way SynShadow trains its detectors: on
shadow-free photos (`photos:PATH[,PATH]`, default the Debian wallpaper packages of
`configs/pretrain_photos.py`) with shadows rendered on the device by the "photo" preset, at the
working resolution itself (whole 256² views at three scales, no crop, so shadows as large as
the frame are seen whole), with the bottleneck's per-image context (`global_context`) and the
illumination features. Scored by the BER of the rendered test views; the lowest is kept.
`tools/ship_pretrained.py --detector WORKDIR` puts it into the shipped joint model.
"""

from jaxshadow.config import defaults

PHOTO_FOLDERS = "/usr/share/backgrounds,/usr/share/wallpapers"


def get_config():
    c = defaults()
    c.task = "detection"
    c.model.name = "shadow_detector"
    c.model.features = (16, 32, 64, 128)
    c.model.illumination_features = True
    c.model.global_context = True
    c.data.source = f"photos:{PHOTO_FOLDERS}"
    c.data.shadows = "photo"
    c.data.photo_size = 256
    c.data.photo_scales = (1.0, 2.0, 3.0)
    c.data.test_fraction = 0.08
    c.data.crop = 0
    c.data.flip = True
    c.data.rot90 = True
    c.data.color_augment = True
    c.data.dead_leaves = 0.2
    c.steps = 1800
    c.batch_size = 8
    c.eval_batch_size = 10
    c.log_every = 50
    c.eval_every = 450
    c.checkpoint_every = 150
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.weight_decay = 1e-4
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 100
    c.optimizer.grad_clip_norm = 1.0
    c.optimizer.ema_decay = 0.995
    c.checkpoint.keep_best = 1
    c.checkpoint.best_metric = "eval_ber"
    c.checkpoint.best_mode = "min"
    return c
