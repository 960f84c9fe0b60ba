"""The on-disk layout of a prepared set, shared by the writer (`prepare`) and the reader.

    DIR/index.json                          written last: the set is complete when it exists
    DIR/{split}-{i:05d}-of-{n:05d}.array_record    ArrayRecord shards (group_size 1: random access)
    DIR/.partial/{shard file}.json          while preparing: one entry per finished shard

One record is one example: the raw bytes of each of its arrays, in the sorted order of the keys
of the split's `spec`, every array C-contiguous with the spec's shape and dtype (so decoding is
`np.frombuffer` slices, no pickle). Example `i` of a split with N examples in n shards lies in
shard `i * n // N`'s contiguous range (`shard_ranges`).
"""

import hashlib

import numpy as np

FORMAT = "jaxshadow-prepared"
VERSION = 1
INDEX = "index.json"
PARTIAL = ".partial"
WRITER_OPTIONS = "group_size:1"


def shard_name(split, shard, num_shards):
    return f"{split}-{shard:05d}-of-{num_shards:05d}.array_record"


def shard_ranges(num_examples, num_shards):
    """[(first, stop)] example ranges of the shards: contiguous, sizes differing by at most 1."""
    bounds = [i * num_examples // num_shards for i in range(num_shards + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def spec_to_json(spec):
    """{key: (shape, dtype)} -> {key: {"shape": [...], "dtype": "uint8"}}."""
    return {k: {"shape": list(shape), "dtype": np.dtype(dtype).name} for k, (shape, dtype) in spec.items()}


def spec_from_json(data):
    return {k: (tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in data.items()}


def encode(example, spec):
    """One example (dict of arrays matching `spec`) -> the bytes of its record."""
    parts = []
    for key in sorted(spec):
        shape, dtype = spec[key]
        array = np.asarray(example[key], dtype=dtype)
        if array.shape != tuple(shape):
            raise ValueError(f"{key} has shape {array.shape}, the split's examples {tuple(shape)}")
        parts.append(array.tobytes(order="C"))
    return b"".join(parts)


def decode(record, spec):
    """The bytes of a record -> a dict of NumPy arrays (read-only views of `record`)."""
    out, offset = {}, 0
    for key in sorted(spec):
        shape, dtype = spec[key]
        count = int(np.prod(shape, dtype=np.int64))
        out[key] = np.frombuffer(record, dtype=dtype, count=count, offset=offset).reshape(shape)
        offset += count * dtype.itemsize
    if offset != len(record):
        raise ValueError(f"record of {len(record)} bytes, the spec needs {offset}")
    return out


def file_sha256(path, chunk=1 << 22):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
