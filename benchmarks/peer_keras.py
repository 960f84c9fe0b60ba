"""Keras 3 / TensorFlow peers built from the same specs. Ops run as TF's own kernels in a
`tf.function`; models are Keras models trained as Keras users train them, `model.fit` over an
in-memory NumPy array (Adam, lr 1e-3, Keras' default compilation: `jit_compile="auto"`,
`steps_per_execution=1`), timed from one step's end to the next, as a long epoch runs (the
first epoch, tracing and compiling, apart).
Optional: `available()` is False without TensorFlow + Keras.
"""

import importlib.util
import os
import statistics
import time

from benchmarks.timing import Timing, time_call


def available():
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def _tf():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from jaxshadow.data.tf_setup import import_tensorflow
    return import_tensorflow(computes=True)


def version():
    import keras
    return f"tf {_tf().__version__}, keras {keras.__version__}"


def time_conv_op(spec, direction, dtype, *, repeats, warmup):
    """Median seconds of one direction of `spec` with tf.nn ops (gradients by GradientTape)."""
    tf = _tf()
    dt = getattr(tf, dtype)
    g = tf.random.Generator.from_seed(0)
    x = tf.cast(g.normal(spec.input_shape()), dt)
    if spec.kind == "dense":
        w = tf.cast(g.normal(spec.kernel_shape()), dt)
        op = lambda x, w: tf.matmul(x, w)
    elif spec.kind == "conv_transpose":
        # tf's transposed-conv filter is (kh, kw, out, in).
        w = tf.cast(g.normal((spec.kh, spec.kw, spec.cout, spec.cin)), dt)
        out_hw = spec.output_hw()
        op = lambda x, w: tf.nn.conv2d_transpose(x, w, (spec.n, *out_hw, spec.cout),
                                                 spec.stride, "SAME")
    else:
        w = tf.cast(g.normal(spec.kernel_shape()), dt)
        op = lambda x, w: tf.nn.conv2d(x, w, spec.stride, spec.padding)
    dy = tf.cast(g.normal(op(x, w).shape), dt)

    @tf.function(jit_compile=False)
    def run(x, w, dy):
        if direction == "fwd":
            return op(x, w)
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = op(x, w)
        target = x if direction == "dgrad" else w
        return tape.gradient(y, target, output_gradients=dy)

    return time_call(lambda: run(x, w, dy).numpy(), repeats=repeats, warmup=warmup)


def _unet(keras, size, channels, features):
    layers = keras.layers

    def block(y, f):
        for _ in range(2):
            y = layers.Conv2D(f, 3, padding="same")(y)
            y = layers.GroupNormalization(8, epsilon=1e-6)(y)
            y = layers.ReLU()(y)
        return y

    x = keras.Input((size, size, channels))
    y, skips = x, []
    for f in features:
        y = block(y, f)
        skips.append(y)
        y = layers.MaxPooling2D(2)(y)
    y = block(y, 2 * features[-1])
    for f, skip in zip(reversed(features), reversed(skips)):
        y = layers.Conv2DTranspose(f, 2, strides=2)(y)
        y = block(layers.Concatenate()([y, skip]), f)
    y = layers.Conv2D(3, 1)(y)
    return keras.Model(x, layers.Add()([x[..., :3], y]))


def _cnn_tiny(keras, size, channels, num_classes):
    layers = keras.layers
    return keras.Sequential([
        keras.Input((size, size, channels)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dense(num_classes)])


def _cnn_small(keras, size, channels, num_classes):
    layers = keras.layers
    return keras.Sequential([
        keras.Input((size, size, channels)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(num_classes)])


def time_fit(model_name, batch_size, image_size, channels, *, repeats, steps_per_epoch=4,
             steps_per_execution=1, features=(32, 64, 128, 256), num_classes=10):
    """(Timing of one training step, parameter count) for the Keras twin of `model_name` under
    `model.fit`: 1 + `repeats` epochs of `steps_per_epoch` batches. A callback times the
    intervals between consecutive steps' ends inside the epochs after the first: the step as
    it runs in a user's long epoch (Keras' set-up and tear-down of each epoch, about 30 ms, is
    spread over hundreds of steps there, and would double a small model's step here if
    whole short epochs were timed). The first epoch's excess over its steps at that median is
    the Timing's compile_s."""
    _tf()  # the TensorFlow backend, GPUs hidden, before keras is imported
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    n = batch_size * steps_per_epoch
    x = rng.uniform(size=(n, image_size, image_size, channels)).astype(np.float32)
    if model_name in ("cnn_tiny", "cnn_small"):
        build = _cnn_tiny if model_name == "cnn_tiny" else _cnn_small
        model = build(keras, image_size, channels, num_classes)
        y = rng.integers(0, num_classes, n).astype(np.int32)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    elif model_name == "unet":
        model = _unet(keras, image_size, channels, features)
        y = rng.uniform(size=(n, image_size, image_size, 3)).astype(np.float32)
        loss = "mean_absolute_error"
    else:
        raise ValueError(f"no Keras twin of model '{model_name}'")
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8), loss=loss,
                  steps_per_execution=steps_per_execution)

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.first_epoch_s, self.steps = None, []

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch, self._start, self._last = epoch, time.perf_counter(), None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self._epoch > 0 and self._last is not None:
                self.steps.append(now - self._last)
            self._last = now

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.first_epoch_s = time.perf_counter() - self._start

    timer = StepTimes()
    model.fit(x, y, batch_size=batch_size, epochs=1 + repeats, shuffle=False, verbose=0,
              callbacks=[timer])
    median = statistics.median(timer.steps)
    return Timing(median, timer.first_epoch_s - median * steps_per_epoch, len(timer.steps),
                  timer.steps), model.count_params()
