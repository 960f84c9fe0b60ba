"""Tasks: what a training step does with a batch and the model's output.

A task turns a host batch (uint8 images, labels, masks) into a device batch whose 'input' the
model reads (`prepare`: conversion, augmentation, rendered shadows), scores the output
(`loss`), and sums evaluation statistics (`eval_sums`) that
`summarize` turns into the metrics a run reports. The training core is the same for every task.
"""

import dataclasses

from jaxshadow.data.synthetic import PRESETS
from jaxshadow.errors import UserError
from jaxshadow.tasks.classification import ClassificationTask
from jaxshadow.tasks.detection import DetectionTask
from jaxshadow.tasks.removal import RemovalTask


def _check_dead_leaves(config, rendered):
    if config.data.dead_leaves and not rendered:
        raise UserError(f"data.dead_leaves needs a source whose shadows are rendered on the "
                        f"device ('synthetic' or 'photos:PATH'), not '{config.data.source}'")


def _shadow_config(data):
    """The renderer's preset `data.shadows` with `data.shadow_free`, `data.bright_shadows`
    (its `bright_anchor`) and `data.mild_shadows` (its `mild`)."""
    return dataclasses.replace(PRESETS[data.shadows], shadow_free=float(data.shadow_free),
                               bright_anchor=float(data.bright_shadows),
                               mild=float(data.mild_shadows))


def make_task(config, source):
    """The task named by `config.task`, built for `source` (a validated config: the checks
    here are those that need the source)."""
    rendered = getattr(source, "renders_shadows", False)
    if config.task != source.task and not (config.task == "detection" and rendered):
        raise UserError(f"data.source '{config.data.source}' is a {source.task} dataset but "
                        f"task is '{config.task}'")
    if config.task == "classification":
        return ClassificationTask(num_classes=source.num_classes)
    if config.task == "removal":
        data = config.data
        _check_dead_leaves(config, rendered)
        return RemovalTask(
            render_shadows=rendered, shadow_config=_shadow_config(data),
            loss_weights=tuple(sorted((k, float(v)) for k, v in config.loss.items() if v)),
            crop=data.crop or None, flip=data.flip, rot90=data.rot90,
            color_augment=data.color_augment, dead_leaves=float(data.dead_leaves),
            veil=float(data.veil), mask_input=data.mask_input, eval_seed=data.eval_seed)
    if config.task == "detection":
        data = config.data
        _check_dead_leaves(config, rendered)
        if data.veil and not rendered:
            raise UserError(f"data.veil needs a source whose shadows are rendered on the device "
                            f"for detection; '{data.source}' has its own masks")
        return DetectionTask(crop=data.crop or None, flip=data.flip, rot90=data.rot90,
                             render_shadows=rendered, color_augment=data.color_augment,
                             dead_leaves=float(data.dead_leaves), veil=float(data.veil),
                             shadow_config=_shadow_config(data), eval_seed=data.eval_seed)
    raise ValueError(f"unknown task '{config.task}' (jaxshadow.validate checks the names)")
