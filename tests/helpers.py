"""Shared test fixtures: small configs and runs on the digits data, and reading their logs."""

import json
import os

from jaxshadow import config as config_lib


def metrics_records(workdir):
    """The JSON records of WORKDIR/metrics.jsonl, in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def digits_config(**overrides):
    """The digits recipe shrunk for tests; `overrides` are dotted keys -> values."""
    c = config_lib.defaults()
    c.model.name = "cnn_small"
    c.data.source = "digits"
    c.data.reader = "numpy"
    c.steps = 10
    c.batch_size = 32
    c.log_every = 5
    c.eval_every = 10
    c.checkpoint_every = 10
    c.optimizer.name = "adam"
    c.optimizer.learning_rate = 1e-3
    for key, value in overrides.items():
        node = c
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return config_lib.validate(c)
