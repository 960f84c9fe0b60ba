"""Test setup, before jax is imported anywhere (subprocesses inherit it through the environment):

- eight simulated CPU devices;
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
