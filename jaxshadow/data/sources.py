"""Source strings from configs and the command line -> a data source.

    digits            scikit-learn's bundled handwritten digits (classification)
    tfds:NAME         a prepared tensorflow-datasets classification dataset (also plain `mnist`)
    synthetic         bundled photos, shadows rendered on the device (removal)
    photos:PATH[,PATH]  any folders of shadow-free photos, shadows rendered on the device
    mixture           the removal sources of data.mixture, by weight (jaxshadow.data.mixture)
    istd:PATH  istd_plus:PATH  srd:PATH  paired:PATH  detection:PATH   the field's folders
    prepared:DIR      a set written by `jaxshadow data prepare`, streamed from its shards
"""

from jaxshadow.errors import UserError

FOLDER_SOURCES = ("istd", "istd_plus", "srd", "paired", "detection")
SOURCES = ("digits", "mnist", "tfds:NAME", "synthetic", "photos:PATH", "mixture", "prepared:DIR", *(f"{n}:PATH" for n in FOLDER_SOURCES))


def folder_options(name, data_config):
    """The layout options of `data_config` that the folder source `name` takes."""
    if name == "srd" and data_config.mask_dir:
        return {"mask_dir": data_config.mask_dir}
    if name in ("paired", "detection"):
        return {"test_fraction": data_config.test_fraction}
    return {}


def _budget(data_config):
    return float(data_config.max_in_memory_gb) * 2**30


def make_source(data_config, stream=False):
    """The source named by `data_config.source`.

    A folder or photos source whose examples take more than `data.max_in_memory_gb` decoded is
    prepared once and streamed from its shards (`jaxshadow.data.auto_prepare`). stream: folder
    sources decode per read instead of loading (what `data prepare` writes from).
    """
    spec = data_config.source
    name, _, arg = spec.partition(":")
    if name == "digits":
        from jaxshadow.data.digits import load_digits
        return load_digits()
    if name == "synthetic":
        from jaxshadow.data.synthetic_source import load_synthetic
        return load_synthetic(tile=data_config.tile)
    if name == "mixture":
        from jaxshadow.data.mixture import load_mixture
        return load_mixture(data_config, make_source)
    if name == "photos":
        from jaxshadow.data.photos_source import load_photos
        photos = load_photos(arg, data_config)
        if stream or photos.decoded_bytes() <= _budget(data_config):
            return photos
        from jaxshadow.data.auto_prepare import prepared_copy
        return prepared_copy(spec, data_config, photos.photo_paths(), photos.decoded_bytes(),
                             lambda: photos)
    if name == "prepared":
        if not arg:
            raise UserError("data.source 'prepared' needs a folder: prepared:DIR")
        from jaxshadow.data.prepared_source import PreparedSource
        return PreparedSource(arg, verify_checksums=data_config.verify_checksums)
    if name in FOLDER_SOURCES:
        if not arg:
            raise UserError(f"data.source '{name}' needs a folder: {name}:PATH")
        from jaxshadow.data.folder_stream import estimate_decoded_bytes
        from jaxshadow.data.layouts import list_source
        load_size = tuple(data_config.load_size)
        load_size = load_size if all(load_size) else None
        options = folder_options(name, data_config)
        listed = {split: list_source(name, arg, split, **options) for split in ("train", "test")}
        decoded = estimate_decoded_bytes(name, arg, load_size=load_size, listed=listed)
        if stream or decoded > _budget(data_config):
            from jaxshadow.data.folder_stream import FolderStream

            def open_stream():
                return FolderStream(name, arg, load_size=load_size, options=options,
                                    skip_bad_examples=data_config.skip_bad_examples,
                                    listed=listed)
            if stream:
                return open_stream()
            from jaxshadow.data.auto_prepare import prepared_copy
            files = [f for examples, _ in listed.values() for e in examples
                     for f in e.files.values()]
            return prepared_copy(spec, data_config, files, decoded, open_stream)
        from jaxshadow.data.folder_source import load_folder_source
        return load_folder_source(name, arg, load_size=load_size,
                                  skip_bad_examples=data_config.skip_bad_examples,
                                  options=options, listed=listed)
    if name == "mnist" and not arg:
        name, arg = "tfds", "mnist"
    if name == "tfds":
        if not arg:
            raise UserError("data.source 'tfds:NAME' needs a dataset name, e.g. tfds:mnist")
        from jaxshadow.data.tfds_source import load_tfds
        return load_tfds(arg, data_config.tfds_data_dir)
    raise UserError(f"unknown data.source '{spec}'; known: {', '.join(SOURCES)}")
