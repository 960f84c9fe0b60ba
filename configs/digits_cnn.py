"""cnn_small on scikit-learn's bundled handwritten digits (no download); ≥ 97% test accuracy."""

from jaxshadow.config import defaults


def get_config():
    c = defaults()
    c.task = "classification"
    c.model.name = "cnn_small"
    c.data.source = "digits"
    c.steps = 600
    c.batch_size = 64
    c.log_every = 50
    c.eval_every = 200
    c.checkpoint_every = 200
    c.optimizer.name = "adam"
    c.optimizer.learning_rate = 2e-3
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 50
    return c
