"""Importing TensorFlow for input pipelines only: quiet, and never holding accelerator memory."""

import importlib.util
import os


def tensorflow_available():
    """True when TensorFlow is installed (looked up without importing it: an import must come
    from `import_tensorflow`, which hides the GPUs first)."""
    return importlib.util.find_spec("tensorflow") is not None


def import_tensorflow(*, computes=False):
    """Imports TensorFlow with every GPU hidden from it (JAX owns the accelerators).

    Unless it `computes` (a Keras model of the benchmarks or tests), TensorFlow only reads,
    decodes and writes here (tf.data, tfds, TensorBoard), so its oneDNN math kernels are left off
    (`TF_ENABLE_ONEDNN_OPTS=0`, when not set already): they would only announce themselves on
    stderr at every run, which TensorFlow does whatever `TF_CPP_MIN_LOG_LEVEL` says.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not computes:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):  # TensorFlow already initialised its devices: leave them
        pass
    return tf
