"""A `configs/pretrain_photos.py` run continued: the base of the photos fine-tuning recipes.

Data, views, renderer, model and losses are `configs/pretrain_photos.py`'s; the learning rate
restarts lower (3e-4, 50 warmup steps, cosine) over 1,500 steps, and the 7 latest checkpoints
(every 250 steps) are kept so that every point of the continuation can be exported and measured
on real photographs (`python -m benchmarks real --export`). The recipes that load this one
change one thing each: `finetune_textures.py` (the data), `finetune_mask_perturbation.py` (the
remover's mask), `finetune_bright_shadows.py` (where and how dark the shadows are),
`finetune_balanced_mask.py` (the mask loss), `finetune_veil.py` (veiling light over the pairs);
`finetune_veil_balanced.py`, the shipped model's second stage, changes the last two together.

Pass the run to continue (a workdir or export of a `configs/pretrain_photos.py` run, the
shipped model's first stage) as `--config.checkpoint.init_from=PATH`; left empty it
trains from scratch for 1,500 steps only.
"""

from pathlib import Path

from jaxshadow import config as config_lib


def get_config():
    c = config_lib.load(Path(__file__).with_name("pretrain_photos.py"))
    c.steps = 1500
    c.optimizer.learning_rate = 3e-4
    c.optimizer.warmup_steps = 50
    c.checkpoint.keep_latest = 7
    return c
