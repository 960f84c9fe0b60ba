"""A source held in memory as NumPy arrays: one dict of equal-length arrays per split."""

import numpy as np


class ArraySource:
    """Examples are rows of in-memory arrays.

    splits: {'train': {'image': uint8 (N, H, W, C), 'label': int32 (N,)}, 'test': {...}}
    task: the task its examples serve ('classification', 'removal' or 'detection').
    renders_shadows: removal examples are shadow-free images only; the task renders shadows.
    """

    def __init__(self, name, splits, num_classes=None, task="classification",
                 renders_shadows=False):
        self.name = name
        self.task = task
        self.renders_shadows = renders_shadows
        self.splits = {s: {k: np.ascontiguousarray(v) for k, v in arrays.items()}
                       for s, arrays in splits.items()}
        self.num_classes = num_classes

    def num_examples(self, split):
        return len(next(iter(self.splits[split].values())))

    def element_spec(self, split):
        """{key: (shape of one example, dtype)}."""
        return {k: (v.shape[1:], v.dtype) for k, v in self.splits[split].items()}

    def read(self, split, index):
        """One example as a dict of NumPy arrays."""
        return {k: v[index] for k, v in self.splits[split].items()}

    def read_tf(self, split, index):
        """One example as a dict of tf.Tensors, for tf.data (index: scalar int64 tensor).

        The arrays stay in NumPy (no graph constant, so no 2 GB limit); tf.data runs these
        reads in parallel and prefetches.
        """
        return read_tf(self, split, index)


def read_tf(source, split, index):
    """`source.read(split, index)` as a dict of tf.Tensors with the shapes and dtypes of
    `source.element_spec(split)`, through `tf.numpy_function` (for tf.data's map)."""
    import tensorflow as tf

    spec = source.element_spec(split)
    keys = list(spec)

    def read(i):
        example = source.read(split, i)
        return [np.asarray(example[k], spec[k][1]) for k in keys]

    values = tf.numpy_function(read, [index], [tf.as_dtype(spec[k][1]) for k in keys],
                               stateful=False)
    return {k: tf.ensure_shape(v, spec[k][0]) for k, v in zip(keys, values)}
