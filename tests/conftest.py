"""Test-session settings: a persistent JAX compilation cache outside the repository."""

import os
import tempfile

import jax

_cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "mjx_iqrl_jax_cache")
jax.config.update("jax_compilation_cache_dir", _cache)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
