"""The shipped model's first stage: `joint` trained on synthetic shadows cast over many real
photographs (the second, `configs/finetune_veil_balanced.py`, continues it for 1,000 steps).

Photos come from any folders (`photos:PATH[,PATH]`); the recipe's default is what the Debian
wallpaper packages install (README: "Training the shipped model"). Each photo is seen as square
views at three scales (`data.photo_scales`), training crops of 128 pixels are cut from them,
recoloured, and get shadows from the renderer's "photo" preset (sizes, penumbrae and occluders
of real photographs at a working resolution of about 256 pixels; see
`jaxshadow.data.synthetic.PRESETS`). 20 % of the images are dead leaves, so the model cannot
rely on the content of a few hundred photos. `predict` runs the model with the image's long
side at `predict_size` and applies its upsampled correction to the full-resolution photo.
"""

from jaxshadow.config import defaults

PHOTO_FOLDERS = "/usr/share/backgrounds,/usr/share/wallpapers"


def get_config():
    c = defaults()
    c.task = "removal"
    c.model.name = "joint"
    c.model.detector_features = (16, 32, 64, 128)
    c.model.remover_features = (16, 32, 64, 128)
    c.model.illumination_features = True
    c.model.shadow_params = True
    c.model.boundary_moments = True
    c.model.global_context = True
    c.data.source = f"photos:{PHOTO_FOLDERS}"
    c.data.shadows = "photo"
    c.data.photo_size = 256
    c.data.photo_scales = (1.0, 2.0, 3.0)
    c.data.test_fraction = 0.08
    c.data.crop = 128
    c.data.flip = True
    c.data.rot90 = True
    c.data.color_augment = True
    c.data.dead_leaves = 0.2
    c.predict_size = 256        # predict: the long side the network sees
    c.steps = 2000
    c.batch_size = 16
    c.eval_batch_size = 10
    c.log_every = 50
    c.eval_every = 500
    c.checkpoint_every = 250
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.weight_decay = 1e-4
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 100
    c.optimizer.grad_clip_norm = 1.0
    c.optimizer.ema_decay = 0.995
    c.loss.l1 = 1.0
    c.loss.mask_bce = 1.0
    c.checkpoint.keep_best = 1
    c.checkpoint.best_metric = "eval_lab_shadow"
    c.checkpoint.best_mode = "min"
    return c
