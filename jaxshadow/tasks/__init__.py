"""Tasks: what a training step does with a batch and the model's output.

A task turns a host batch (uint8 images, labels, masks) into model inputs on the device
(`prepare`), scores the output (`loss`), and sums evaluation statistics (`eval_sums`) that
`summarize` turns into the metrics a run reports. The training core is the same for every task.
"""

from jaxshadow.errors import UserError
from jaxshadow.tasks.classification import ClassificationTask


def make_task(config, source):
    """The task named by `config.task`, sized for `source`."""
    if config.task == "classification":
        return ClassificationTask(num_classes=source.num_classes)
    raise UserError(f"task '{config.task}' is not available for source '{config.data.source}'")
