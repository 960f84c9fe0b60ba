"""Source strings from configs and the command line -> a data source.

    digits            scikit-learn's bundled handwritten digits (classification)
    tfds:NAME         a prepared tensorflow-datasets classification dataset (also plain `mnist`)
"""

from jaxshadow.errors import UserError

SOURCES = ("digits", "mnist", "tfds:NAME")


def make_source(data_config):
    """The source named by `data_config.source`."""
    spec = data_config.source
    name, _, arg = spec.partition(":")
    if name == "digits":
        from jaxshadow.data.digits import load_digits
        return load_digits()
    if name == "mnist" and not arg:
        name, arg = "tfds", "mnist"
    if name == "tfds":
        if not arg:
            raise UserError("data.source 'tfds:NAME' needs a dataset name, e.g. tfds:mnist")
        from jaxshadow.data.tfds_source import load_tfds
        return load_tfds(arg, data_config.get("tfds_data_dir", ""))
    raise UserError(f"unknown data.source '{spec}'; known: {', '.join(SOURCES)}")
