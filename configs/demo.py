"""The main job: remove synthetic shadows from real photos, on a CPU in minutes.

`joint` (detector → mask → mask-conditioned U-Net) trains on tiles of the photos bundled with
scikit-image and scikit-learn, 30 % of them replaced by dead-leaves images, with shadows
rendered on the fly; evaluation uses held-out photos with a fixed set of rendered shadows and
reports the field's LAB error table.
"""

from jaxshadow.config import defaults


def get_config():
    c = defaults()
    c.task = "removal"
    c.model.name = "joint"
    c.model.detector_features = (8, 16, 32)
    c.model.remover_features = (16, 32, 64)
    c.model.illumination_features = True  # detector sees chromaticity and log intensity
    c.model.shadow_params = True  # per-image gains/offsets from shadow vs lit statistics
    c.model.boundary_moments = True  # ... and the colour moments across the shadow's boundary
    c.model.global_context = True  # remover bottleneck gets a per-image feature
    c.data.source = "synthetic"
    c.data.tile = 96
    c.data.crop = 32  # small crops, many per step: more shadows and scenes per second
    c.data.flip = True
    c.data.rot90 = True
    c.data.color_augment = True  # 9 training photos: without it the model learns their colours
    c.data.dead_leaves = 0.3  # ... and 30 % of the training images are dead leaves, not photos
    c.steps = 450
    c.batch_size = 64
    c.eval_batch_size = 32
    c.log_every = 50
    c.eval_every = 225
    c.checkpoint_every = 225
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 2e-3
    c.optimizer.weight_decay = 1e-4
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 100
    c.optimizer.grad_clip_norm = 1.0
    c.optimizer.ema_decay = 0.99  # evaluate the average of the last ~100 steps' parameters
    c.loss.l1 = 1.0
    c.loss.mask_bce = 1.0
    c.checkpoint.keep_best = 1
    c.checkpoint.best_metric = "eval_lab_shadow"
    c.checkpoint.best_mode = "min"
    return c
