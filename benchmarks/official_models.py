"""The official PyTorch implementations of the zoo's architectures, loaded from their public
source files for the parity tests and the PyTorch peers of the train benchmark, or None (with
the reason) when torch or the files are absent.

The files are looked up under $JAXSHADOW_REFERENCE_CODE (default ~/.cache/jaxshadow/reference),
as cloned from GitHub:

    git clone https://github.com/megvii-research/NAFNet    $DIR/NAFNet
    git clone https://github.com/GuoLanqing/ShadowFormer   $DIR/ShadowFormer

Only the model files are executed. Their imports that the model classes never use (OpenCV,
scipy.misc, the repositories' own training utilities, timm's three helpers when timm is not
installed) are replaced by small stand-ins before executing them.
"""

import functools
import importlib.util
import os
import pathlib
import sys
import types

REFERENCE_ENV = "JAXSHADOW_REFERENCE_CODE"
NAFNET_FILES = ("basicsr/models/archs/arch_util.py", "basicsr/models/archs/local_arch.py",
                "basicsr/models/archs/NAFNet_arch.py")
SHADOWFORMER_FILE = "model.py"


def reference_dir():
    return pathlib.Path(os.environ.get(REFERENCE_ENV,
                                       os.path.expanduser("~/.cache/jaxshadow/reference")))


def _torch_missing():
    try:
        importlib.import_module("torch")
    except ImportError:
        return "torch is not installed (pip install torch)"
    return None


def _execute(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules.setdefault(name, module)
    return sys.modules[name]


@functools.cache
def official_nafnet():
    """(the official NAFNet module class, None) or (None, the reason it is unavailable)."""
    reason = _torch_missing()
    root = reference_dir() / "NAFNet"
    if reason is None and not all((root / f).is_file() for f in NAFNET_FILES):
        reason = f"the official NAFNet code is not under {root} (set ${REFERENCE_ENV})"
    if reason:
        return None, reason
    for package in ("basicsr", "basicsr.models", "basicsr.models.archs"):
        _stub(package, __path__=[])
    _stub("basicsr.utils", get_root_logger=lambda *a, **k: None)
    for name, file in zip(("arch_util", "local_arch", "NAFNet_arch"), NAFNET_FILES):
        module = _execute(f"basicsr.models.archs.{name}", root / file)
    return module.NAFNet, None


@functools.cache
def official_shadowformer():
    """(the official ShadowFormer module class, None) or (None, the reason)."""
    reason = _torch_missing()
    path = reference_dir() / "ShadowFormer" / SHADOWFORMER_FILE
    if reason is None and not path.is_file():
        reason = f"the official ShadowFormer code is not at {path} (set ${REFERENCE_ENV})"
    if reason is None and importlib.util.find_spec("einops") is None:
        reason = "the official ShadowFormer code needs einops (pip install einops)"
    if reason:
        return None, reason
    import torch

    _stub("cv2")
    _stub("utils")
    try:
        importlib.import_module("scipy.misc")
    except ImportError:
        _stub("scipy")
        _stub("scipy.misc")
    if "timm" not in sys.modules and importlib.util.find_spec("timm") is None:
        _stub("timm", __path__=[])
        _stub("timm.models", __path__=[])
        _stub("timm.models.layers", DropPath=_drop_path_class(), to_2tuple=lambda v: (v, v),
              trunc_normal_=lambda t, std=1.0: torch.nn.init.trunc_normal_(t, std=std))
    return _execute("shadowformer_official", path).ShadowFormer, None


def _drop_path_class():
    import torch

    class DropPath(torch.nn.Module):
        """Stochastic depth (timm's): identity in eval mode, as the parity tests run it."""

        def __init__(self, p=0.0):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device) >= self.p
            return x * keep / (1 - self.p)

    return DropPath

