"""Any prepared tensorflow-datasets classification dataset (`tfds:NAME`, e.g. mnist).

Nothing is downloaded at training time: the dataset must already be prepared in the user's tfds
data directory. The splits are read once into memory as NumPy arrays.
"""

from jaxshadow.data.arrays import ArraySource
from jaxshadow.errors import UserError


def load_tfds(name, data_dir=""):
    """An ArraySource for the prepared tfds dataset `name` ('train' and 'test' splits)."""
    import importlib.util

    from jaxshadow.data.tf_setup import import_tensorflow

    if importlib.util.find_spec("tensorflow_datasets") is None:
        raise UserError(f"data.source 'tfds:{name}' needs tensorflow-datasets: "
                        f"pip install 'jaxshadow[tf]'")
    import_tensorflow()
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except Exception as e:  # tfds appends its whole catalogue: keep the first line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"unknown tfds dataset '{name}': {first}") from e
    if not builder.is_prepared():
        raise UserError(
            f"tfds dataset '{name}' is not prepared in {builder.data_dir_root}; prepare it once "
            f"on a machine with internet access (`tfds build {name} --data_dir DIR`) and set "
            f"--config.data.tfds_data_dir=DIR")
    splits = {}
    for split in ("train", "test"):
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        splits[split] = {"image": data["image"], "label": data["label"].astype("int32")}
    num_classes = builder.info.features["label"].num_classes
    return ArraySource(name, splits, num_classes=num_classes)
