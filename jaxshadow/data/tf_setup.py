"""Importing TensorFlow for input pipelines only: quiet, and never holding accelerator memory."""

import os


def tensorflow_available():
    """True when TensorFlow can be imported."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def import_tensorflow():
    """Imports TensorFlow with every GPU hidden from it (JAX owns the accelerators)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    return tf
