"""Test setup, before jax is imported anywhere (subprocesses inherit it through the environment):

- eight simulated CPU devices;
- the project root on `sys.path`, so tests import `benchmarks` (not an installed package);
- one persistent compilation cache for the whole suite, so the runs that compile the same
  steps (in-process, in subprocesses, after a kill -9) compile them once;
  `JAX_COMPILATION_CACHE_DIR` set outside (as `.ci/run` does) chooses its folder.
"""

import os
import tempfile

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"jaxshadow-tests-{os.getuid()}", "jit"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")

import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def small_real(tmp_path_factory):
    """A copy of the real ISTD triplet and four detection photos with their masks."""
    if not (REAL / "istd").is_dir():
        pytest.fail(f"real test data missing: {REAL} (expected beside the project)")
    root = tmp_path_factory.mktemp("real")
    shutil.copytree(REAL / "istd", root / "istd")
    for sub in ("images", "masks"):
        (root / "detection" / sub).mkdir(parents=True)
    for path in sorted((REAL / "detection" / "images").glob("*.jpg"))[:4]:
        shutil.copy(path, root / "detection" / "images")
        shutil.copy(REAL / "detection" / "masks" / f"{path.stem}.png", root / "detection" / "masks")
    return root
