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
        import tensorflow as tf

        arrays = self.splits[split]
        keys = list(arrays)
        values = tf.numpy_function(lambda i: [arrays[k][i] for k in keys], [index],
                                   [tf.as_dtype(arrays[k].dtype) for k in keys], stateful=False)
        return {k: tf.ensure_shape(v, arrays[k].shape[1:]) for k, v in zip(keys, values)}
