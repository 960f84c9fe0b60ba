"""A source held in memory as NumPy arrays: one dict of equal-length arrays per split."""

import numpy as np


class ArraySource:
    """Examples are rows of in-memory arrays.

    splits: {'train': {'image': uint8 (N, H, W, C), 'label': int32 (N,)}, 'test': {...}}
    """

    def __init__(self, name, splits, num_classes=None):
        self.name = name
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
        """One example as a dict of tf.Tensors, for tf.data (index: scalar int64 tensor)."""
        import tensorflow as tf
        return {k: tf.gather(tf.constant(v), index) for k, v in self.splits[split].items()}
