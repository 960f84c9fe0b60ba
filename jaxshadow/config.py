"""Configs: an `ml_collections.ConfigDict` file plus `KEY=VALUE` overrides, validated and saved.

A config file is a Python file defining `get_config() -> ConfigDict` (the convention of the Flax
examples and big_vision). Overrides use dotted keys (`optimizer.learning_rate=3e-4`); a value is
parsed as a Python literal and must keep the type of the key it replaces. Keys under `model.`
may be new: they are the model's own options, checked against the model when it is built.
"""

import ast
import difflib
import importlib.util
import json
from pathlib import Path

import ml_collections

from jaxshadow.errors import UserError
from jaxshadow.validate import validate

_TYPE_NAMES = {int: "an integer", float: "a number", tuple: "a tuple", list: "a list"}


def load(path):
    """Runs the config file at `path` and returns its `get_config()`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"_jaxshadow_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a user's file: report it in one line
        raise UserError(f"config file {path} failed to load: {type(e).__name__}: {e}") from e
    if not hasattr(module, "get_config"):
        raise UserError(f"config file {path} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, ml_collections.ConfigDict):
        raise UserError(f"config file {path}: get_config() must return an ml_collections.ConfigDict")
    return config


def leaf_keys(config, prefix=""):
    """All dotted leaf keys of a ConfigDict, e.g. ['batch_size', 'optimizer.name', ...]."""
    keys = []
    for key, value in config.items():
        full = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(leaf_keys(value, full + "."))
        else:
            keys.append(full)
    return keys


def _unknown_key(config, key):
    close = difflib.get_close_matches(key, leaf_keys(config), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return UserError(f"unknown config key '{key}'{hint}")


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as `synthetic` or `istd:/data/ISTD`


def _convert(key, old, text):
    """Parses `text` into the type of `old` (the value it replaces)."""
    if isinstance(old, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise UserError(f"bad value for {key}: '{text}' is not a boolean (true/false)")
    value = _parse_value(text)
    if old is None:
        return value
    if isinstance(old, str):
        return text
    if isinstance(old, int) and not isinstance(value, bool) and isinstance(value, int):
        return value
    if isinstance(old, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(old, (tuple, list)) and isinstance(value, (tuple, list)):
        return type(old)(value)
    raise UserError(f"bad value for {key}: '{text}' is not {_TYPE_NAMES.get(type(old), 'a ' + type(old).__name__)}")


def apply_override(config, key, text):
    """Sets dotted `key` of `config` from the string `text`, in place."""
    parts = key.split(".")
    node = config
    for i, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
            raise _unknown_key(config, key)
        node = node[part]
    leaf = parts[-1]
    if leaf not in node:
        if parts[0] == "model" and len(parts) == 2:
            with node.unlocked():
                node[leaf] = _parse_value(text)
            return
        raise _unknown_key(config, key)
    if isinstance(node[leaf], ml_collections.ConfigDict):
        raise UserError(f"config key '{key}' is a group; set one of its keys, e.g. "
                        f"'{leaf_keys(node[leaf], key + '.')[0]}'")
    node[leaf] = _convert(key, node[leaf], text)


def parse_overrides(args):
    """Splits CLI words `--config.KEY=VALUE` into (key, value) pairs."""
    pairs = []
    for arg in args:
        if not arg.startswith("--config.") or "=" not in arg:
            raise UserError(f"unexpected argument '{arg}' (overrides look like --config.KEY=VALUE)")
        key, value = arg[len("--config."):].split("=", 1)
        pairs.append((key, value))
    return pairs


def resolve(path, overrides=()):
    """Loads `path`, applies `overrides` (CLI words or (key, value) pairs), completes it with
    the defaults and runs the config-only checks of `jaxshadow.validate`."""
    config = complete(load(path))
    pairs = parse_overrides(overrides) if overrides and isinstance(overrides[0], str) else overrides
    for key, value in pairs:
        apply_override(config, key, value)
    return validate(config)


def to_json(config):
    """The config as pretty JSON text (tuples become lists)."""
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


def from_json(text):
    """A ConfigDict from `to_json` output, completed with `defaults()` for the keys it lacks
    (a run saved before a key existed reads as if it had the key's default)."""
    return complete(ml_collections.ConfigDict(json.loads(text)))


def complete(config):
    """`defaults()` overridden by every key of `config` (its own extra keys, such as a model's
    options, kept): the one place where a missing key gets its default."""
    merged = defaults()

    def merge(into, values):
        for key, value in values.items():
            if isinstance(value, ml_collections.ConfigDict) and isinstance(
                    into.get(key), ml_collections.ConfigDict):
                merge(into[key], value)
            else:
                with into.unlocked():
                    into[key] = value

    merge(merged, config)
    return merged


def defaults():
    """The keys every recipe has, with their defaults. Recipes start from this."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.task = "classification"
    c.steps = 1000
    c.batch_size = 64           # global, over all devices and processes
    c.eval_batch_size = 0       # 0: same as batch_size
    c.log_every = 50
    c.eval_every = 500
    c.checkpoint_every = 500
    c.dtype = "float32"         # compute dtype; parameters stay float32
    c.num_devices = 0           # 0: every device; else the first N (for tests and debugging)
    # The device mesh ('data', 'fsdp'); -1 = the rest of the devices. The batch is split over
    # both axes, large parameters and their optimizer state over 'fsdp' (train/sharding_rules.py).
    c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1})
    c.num_samples = 6           # removal: before/after rows in WORKDIR/samples/ at each eval
    c.predict_size = 0          # removal: long side `predict` runs the network at; 0 = full size

    c.model = ml_collections.ConfigDict({"name": "cnn_small"})

    c.data = ml_collections.ConfigDict()
    c.data.source = "digits"
    c.data.reader = "auto"      # auto | tf | numpy | grain (auto: grain for prepared:DIR)
    c.data.workers = 0          # grain reader: worker processes (0: threads in this process)
    c.data.max_in_memory_gb = 4.0  # folder/photos sets larger than this decoded: prepared once
    c.data.prepared_dir = ""    # ... into this folder (default ~/.cache/jaxshadow/prepared)
    c.data.verify_checksums = True  # prepared sets: SHA-256 of every shard on open (reads it
    #                                 all); False checks presence, size and record counts only
    c.data.tfds_data_dir = ""
    c.data.skip_bad_examples = False
    c.data.device_prefetch = 2  # global batches on their way to the devices ahead of the step
    c.data.load_size = (0, 0)   # folder sources: resize every image to (H, W); (0, 0) keeps sizes
    c.data.crop = 0             # removal: random training crop of this size; 0 = none
    c.data.flip = True          # removal: random left-right flips in training
    c.data.rot90 = False        # removal: random quarter turns in training (square crops)
    c.data.color_augment = False  # removal: random channel order and gains in training
    c.data.dead_leaves = 0.0    # synthetic: fraction of training images made dead leaves
    c.data.veil = 0.0           # training pairs under veiling light (fraction; add_veil)
    c.data.mask_input = False   # removal: feed the shadow mask as a 4th input channel
    c.data.tile = 96            # synthetic: tile size cut from the bundled photos
    c.data.shadows = "synshadow"  # rendered shadows: a preset of jaxshadow.data.synthetic.PRESETS
    c.data.shadow_free = 0.0    # rendered shadows: fraction of training images left without one
    c.data.bright_shadows = 0.0  # rendered shadows: fraction cast on the brightest surfaces
    c.data.mild_shadows = 0.0   # rendered shadows: fraction darkened mildly (sky-lit shadows)
    c.data.photo_size = 256     # photos: side of the square views cut from each photo
    c.data.photo_scales = (1.0, 2.0, 3.0)  # photos: shorter side = k * photo_size, each k
    c.data.cache_gb = 2.0       # photos: decoded photos kept in memory (least recently used)
    c.data.mixture = ()         # source 'mixture': ((SOURCE, WEIGHT), ...), removal sources
    c.data.mix_size = 256       # mixture: every example becomes a square of this side
    c.data.mask_dir = ""        # srd: a folder of masks (SRD ships none)
    c.data.test_fraction = 0.1  # paired / flat detection folders: held-out fraction
    c.data.eval_seed = 1234     # rendered evaluation shadows; fixed, independent of `seed`

    # Loss terms of jaxshadow.losses and their weights (removal); 0 = not computed.
    c.loss = ml_collections.ConfigDict({"l1": 1.0, "charbonnier": 0.0, "psnr": 0.0, "ssim": 0.0,
                                        "lab_l1": 0.0, "mask_bce": 0.0,
                                        "mask_bce_balanced": 0.0})

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.name = "adam"   # adam | adamw | sgd
    c.optimizer.learning_rate = 1e-3
    c.optimizer.schedule = "constant"  # constant | cosine | warmup_cosine
    c.optimizer.warmup_steps = 0
    c.optimizer.end_learning_rate_factor = 0.0
    c.optimizer.weight_decay = 0.0
    c.optimizer.momentum = 0.9
    c.optimizer.b1 = 0.9
    c.optimizer.b2 = 0.999
    c.optimizer.grad_clip_norm = 0.0   # 0: no clipping
    c.optimizer.accumulate_steps = 1   # optax.MultiSteps when > 1
    c.optimizer.ema_decay = 0.0        # 0: no EMA of parameters
    c.optimizer.skip_nonfinite = False

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.keep_latest = 3
    c.checkpoint.keep_best = 0
    c.checkpoint.best_metric = ""
    c.checkpoint.best_mode = "max"
    c.checkpoint.init_from = ""  # a workdir or export file: a new run starts from its parameters
    return c
