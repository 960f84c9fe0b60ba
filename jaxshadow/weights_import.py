"""Published PyTorch checkpoints of the zoo's architectures as jaxshadow export files.

    read_state_dict(path) -> {torch key: float32 ndarray}
    convert(arch, state_dict) -> (model options, input channels, {"params": flax params})
    import_weights(arch, torch_path, out_path) -> summary dict   (`jaxshadow import-weights`)

Files are read without unpickling arbitrary objects: `.safetensors` through safetensors, every
other file through `torch.load(weights_only=True)`. The state dict may sit under "params"
(NAFNet's releases), "params_ema", "state_dict" (ShadowFormer's) or "model"; "module."
prefixes (DataParallel) are dropped. The architecture's options (widths, block counts, window
size) are read from the arrays' shapes, so any released size imports.

The flax parameter names follow the official modules (`models/nafnet.py`,
`models/shadowformer.py`); `torch_key` maps one to the other and each array is transposed from
PyTorch's layout:

    Conv2d weight (O, I/g, kh, kw)            -> kernel (kh, kw, I/g, O)
    ConvTranspose2d (stride 2, 2×2) (I, O, a, b) -> kernel[1 - a, 1 - b] (2, 2, I, O)
    Linear weight (O, I)                      -> kernel (I, O)
    LayerNorm weight / bias                   -> scale / bias; others reshaped as they are
"""

import hashlib
import math
import os
import re

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from jaxshadow import config as config_lib
from jaxshadow.errors import UserError
from jaxshadow.files import atomic_write

ARCHS = ("nafnet", "shadowformer")
WRAPPER_KEYS = ("params", "params_ema", "state_dict", "model")
BUFFERS = ("relative_position_index",)  # recomputed, not learned

# (pattern, replacement) on the "/"-joined flax path, in order; then "/" becomes ".".
_RENAMES = {
    "nafnet": [
        (r"^(encoders|decoders)_(\d+)_(\d+)/", r"\1.\2.\3/"),
        (r"^(middle_blks|downs)_(\d+)/", r"\1.\2/"),
        (r"^ups_(\d+)/", r"ups.\1.0/"),
        (r"/sca/", r"/sca.1/"),
    ],
    "shadowformer": [
        (r"^(input_proj|output_proj)/", r"\1/proj.0/"),
        (r"^dowsample_(\d)/", r"dowsample_\1/conv.0/"),
        (r"^upsample_(\d)/", r"upsample_\1/deconv.0/"),
        (r"/blocks_(\d+)/", r"/blocks.\1/"),
        (r"/body_1$", r"/body.1/weight"),
        (r"/body_(\d)/", r"/body.\1/"),
        (r"/CA_conv_du_(\d)/", r"/CA.conv_du.\1/"),
        (r"/qkv_to_(q|kv)/", r"/qkv.to_\1/"),
        (r"/mlp/(linear1|dwconv|linear2)/", r"/mlp.\1.0/"),
    ],
}
_LEAF_NAMES = {"kernel": "weight", "scale": "weight"}


def torch_key(arch, path):
    """The official module's state-dict key of the flax parameter at `path` (a tuple of names
    under "params"), e.g. ("encoders_0_1", "conv2", "kernel") -> "encoders.0.1.conv2.weight"."""
    *modules, leaf = path
    joined = "/".join(modules + [_LEAF_NAMES.get(leaf, leaf)])
    for pattern, replacement in _RENAMES[arch]:
        joined = re.sub(pattern, replacement, joined)
    return joined.replace("/", ".")


def read_state_dict(path):
    """{key: float32 ndarray} of the checkpoint at `path`; UserError naming it when unreadable."""
    if not os.path.isfile(path):
        raise UserError(f"--torch {path}: no such file")
    if path.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError as e:
            raise UserError("reading .safetensors needs safetensors: pip install safetensors") \
                from e
        try:
            raw = load_file(path)
        except Exception as e:  # safetensors raises its own error types for bad headers
            raise UserError(f"{path}: not a readable safetensors file ({e})") from e
    else:
        try:
            import torch
        except ImportError as e:
            raise UserError(f"reading {path} needs PyTorch: pip install torch (or give a "
                            f".safetensors file)") from e
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling errors of many kinds
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{path}: not a weights-only PyTorch checkpoint ({first})") from e
    return _flat_arrays(raw, path)


def _flat_arrays(raw, path):
    if isinstance(raw, dict):
        for key in WRAPPER_KEYS:
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{path}: no state dict of arrays found")
    arrays = {}
    for key, value in raw.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().float().numpy()
        if not isinstance(value, np.ndarray):
            raise UserError(f"{path}: entry '{key}' is not an array")
        name = key[len("module."):] if key.startswith("module.") else key
        arrays[name] = value.astype(np.float32)
    return arrays


def infer_options(arch, state):
    """The model options (registry keywords) that the arrays' shapes imply, and the number of
    input channels (3 RGB, 4 RGB + mask)."""
    try:
        if arch == "nafnet":
            def count(prefix):
                levels = {}
                for key in state:
                    m = re.match(rf"^{prefix}\.(\d+)\.(\d+)\.", key)
                    if m:
                        levels.setdefault(int(m[1]), set()).add(int(m[2]))
                return tuple(len(levels[i]) for i in sorted(levels))

            middle = {int(m[1]) for k in state if (m := re.match(r"^middle_blks\.(\d+)\.", k))}
            options = {"width": int(state["intro.weight"].shape[0]),
                       "enc_blocks": count("encoders"), "middle_blocks": len(middle),
                       "dec_blocks": count("decoders")}
            return options, int(state["intro.weight"].shape[1])
        table = state["encoderlayer_2.blocks.0.attn.relative_position_bias_table"]
        side = math.isqrt(table.shape[0])
        options = {"embed_dim": int(state["input_proj.proj.0.weight"].shape[0]),
                   "win_size": (side + 1) // 2}
        return options, int(state["input_proj.proj.0.weight"].shape[1])
    except KeyError as e:
        raise UserError(f"the checkpoint has no '{e.args[0]}': not a {arch} state dict "
                        f"(is --arch right?)") from e


def _flax_array(key, path, torch_array, shape):
    leaf = path[-1]
    a = torch_array
    if leaf == "kernel" and a.ndim == 4 and "deconv" in key:
        a = a.transpose(2, 3, 0, 1)[::-1, ::-1]
    elif leaf == "kernel" and a.ndim == 4:
        a = a.transpose(2, 3, 1, 0)
    elif leaf == "kernel" and a.ndim == 2:
        a = a.T
    elif a.size == math.prod(shape):
        a = a.reshape(shape)
    if a.shape != tuple(shape):
        raise UserError(f"checkpoint entry '{key}' has shape {torch_array.shape}, the model "
                        f"needs {tuple(shape)}")
    return np.ascontiguousarray(a, dtype=np.float32)


def convert(arch, state):
    """(options, channels, {"params": flax params}) from the state dict `state` (arrays or
    torch tensors) of the official `arch` module. UserError naming the first missing,
    unexpected or misshapen entry."""
    from jaxshadow import models

    if arch not in ARCHS:
        raise UserError(f"--arch must be one of {', '.join(ARCHS)}, got '{arch}'")
    state = _flat_arrays(state, "the state dict")
    options, channels = infer_options(arch, state)
    model = models.get(arch, **options)
    size = 8 * options.get("win_size", 1) * 2
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0),
                                               jnp.zeros((1, size, size, channels))))["params"]
    used = set()

    def fill(path, leaf):
        names = tuple(p.key for p in path)
        key = torch_key(arch, names)
        if key not in state:
            raise UserError(f"the checkpoint has no '{key}' (needed for {'/'.join(names)})")
        used.add(key)
        return _flax_array(key, names, state[key], leaf.shape)

    params = jax.tree_util.tree_map_with_path(fill, shapes)
    unexpected = sorted(k for k in state if k not in used and k.rsplit(".", 1)[-1] not in BUFFERS)
    if unexpected:
        more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
        raise UserError(f"the checkpoint has entries the {arch} model does not use: "
                        f"'{unexpected[0]}'{more}")
    return options, channels, {"params": params}


def import_weights(arch, torch_path, out_path, config=None):
    """Writes `out_path` (atomically): an export file (`jaxshadow.export`) of the checkpoint
    `torch_path`, with `config` (default: the arch's ISTD+ recipe) carrying the options read
    from the checkpoint. Returns {'path', 'model', 'options', 'num_params', 'bytes'}."""
    from jaxshadow import export, recipes

    if os.path.isdir(out_path):
        raise UserError(f"--out {out_path} is a directory; give a file name")
    state = read_state_dict(torch_path)
    options, channels, variables = convert(arch, state)
    config = recipes.zoo_removal(arch) if config is None else config
    with config.unlocked():
        config.model = config_lib.ml_collections.ConfigDict({"name": arch, **{
            k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}})
        config.data.mask_input = channels == 4
    config = config_lib.validate(config)
    with open(torch_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    crop = int(config.data.crop) or 256
    payload = {
        "format": export.FORMAT, "version": export.VERSION, "step": 0,
        "config": config_lib.to_json(config),
        "input_shape": [crop, crop, channels],
        "variables": variables,
        "imported_from": {"file": os.path.basename(torch_path), "sha256": digest},
    }
    data = flax.serialization.msgpack_serialize(payload)
    atomic_write(out_path, data)
    return {"path": out_path, "model": arch, "options": options,
            "num_params": sum(int(x.size) for x in jax.tree.leaves(variables)),
            "bytes": len(data)}
