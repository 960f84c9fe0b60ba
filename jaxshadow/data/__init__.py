"""Data: where examples come from, how batches are drawn, and what runs on the device.

    make_source(data_config)            a source string ('synthetic', 'istd:PATH', ...) -> source
    train_batches / eval_batches        the deterministic host pipeline (batch at step s = f(seed, s))
    render(key, images)                 synthetic shadows rendered on the device (SynShadow's model)
    dead_leaves(key, images)            dead-leaves images with colours drawn from a batch
    istd_plus_correct(shadow, free, mask)   the ISTD+ colour correction of a shadow-free image
"""

from jaxshadow.data.dead_leaves import dead_leaves
from jaxshadow.data.istd_plus import istd_plus_correct
from jaxshadow.data.pipeline import eval_batches, train_batches
from jaxshadow.data.sources import make_source
from jaxshadow.data.synthetic import ShadowConfig, render

__all__ = ["ShadowConfig", "dead_leaves", "eval_batches", "istd_plus_correct", "make_source",
           "render", "train_batches"]
