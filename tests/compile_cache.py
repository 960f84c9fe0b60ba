"""A persistent XLA compilation cache for the tests of one module (they repeat the same runs)."""

import contextlib

import jax
from jax.experimental.compilation_cache import compilation_cache


@contextlib.contextmanager
def compile_cache(directory):
    """Caches compiled executables in `directory` while inside; as before afterwards."""
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(directory))
    compilation_cache.reset_cache()
    try:
        yield
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
        compilation_cache.reset_cache()


def shared_cache_dir(tmp_path_factory):
    """One cache directory for the whole test session (under pytest's base temp dir)."""
    directory = tmp_path_factory.getbasetemp() / "jit_cache"
    directory.mkdir(exist_ok=True)
    return directory
