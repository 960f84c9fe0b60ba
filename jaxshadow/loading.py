"""A trained model, from a run's workdir or from a file written by `jaxshadow export`: the one
place where jaxshadow rebuilds a model and its variables.

    load(path) -> (model, variables, config)
    load_trained(path) -> Trained(model, variables, config, step, input_shape)

path: a workdir (its newest readable checkpoint) or an export file. No dataset is read: the
train state's structure comes from the run's config and the input shape saved with each
checkpoint (`abstract_state`). variables: {"params": the EMA of the parameters when the run
kept one, else the parameters, <other collections>} as NumPy-backed jax arrays on one device,
for `model.apply(variables, x, train=False)`; config: the run's validated ConfigDict.
"""

import dataclasses
import os
from typing import Any

import jax

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError


@dataclasses.dataclass
class Trained:
    model: Any            # the flax Module
    variables: Any        # {"params": ..., <other collections>}
    config: Any           # the run's ConfigDict
    step: Any             # the checkpoint's step; an export's own step
    input_shape: tuple    # one example's model input (H, W, C)


def load_run_config(workdir):
    """The resolved config a run saved in WORKDIR/config.json."""
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: is {workdir} a jaxshadow workdir?")
    with open(path) as f:
        return config_lib.validate(config_lib.from_json(f.read()))


def _from_workdir(workdir):
    from jaxshadow.train.checkpoints import abstract_like, restore_latest
    from jaxshadow.train.mesh import make_mesh, replicated
    from jaxshadow.train.setup import abstract_state, build_model
    from jaxshadow.train.steps import eval_variables

    config = load_run_config(workdir)
    one_device = replicated(make_mesh(1))

    def input_shape(meta):
        if not meta.get("input_shape"):
            raise UserError(f"{workdir}: its checkpoints do not record the model's input shape "
                            f"(written by an older jaxshadow); train it again")
        return tuple(int(n) for n in meta["input_shape"])

    def target_for(meta):
        abstract = abstract_state(config, input_shape(meta))
        return abstract_like(abstract, jax.tree.map(lambda _: one_device, abstract))

    state, meta, step = restore_latest(workdir, config.checkpoint, target_for)
    return Trained(build_model(config.model, config.dtype), eval_variables(state), config,
                   step, input_shape(meta))


def load_trained(path):
    """The model at `path` (a workdir or an export file) with its step and input shape."""
    if os.path.isdir(path):
        return _from_workdir(path)
    from jaxshadow.export import read_export

    return read_export(path)


def load(path):
    """(model, variables, config) of the workdir or export file at `path`."""
    trained = load_trained(path)
    return trained.model, trained.variables, trained.config
