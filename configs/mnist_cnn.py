"""cnn_small on MNIST from tensorflow-datasets (prepared beforehand in the tfds data dir)."""

from jaxshadow.config import defaults


def get_config():
    c = defaults()
    c.task = "classification"
    c.model.name = "cnn_small"
    c.data.source = "tfds:mnist"
    c.steps = 3000
    c.batch_size = 128
    c.log_every = 100
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.optimizer.name = "adam"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.schedule = "warmup_cosine"
    c.optimizer.warmup_steps = 100
    return c
