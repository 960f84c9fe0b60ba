"""Importing TensorFlow for input pipelines only: quiet, and never holding accelerator memory."""

import importlib.util
import os


def tensorflow_available():
    """True when TensorFlow is installed (looked up without importing it: an import must come
    from `import_tensorflow`, which hides the GPUs first)."""
    return importlib.util.find_spec("tensorflow") is not None


def import_tensorflow():
    """Imports TensorFlow with every GPU hidden from it (JAX owns the accelerators)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    return tf
