"""Test-session settings: CPU, a persistent JAX compilation cache outside the repository, and xdist groups."""

import os
import tempfile

# The suite and its fidelity tolerances are CPU's (a machine with a GPU still tests on CPU; JAX_PLATFORMS overrides).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import pytest

_cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "mjx_iqrl_jax_cache")
jax.config.update("jax_compilation_cache_dir", _cache)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups the tests that share compiled programs, so that `--dist loadgroup` runs each group on one worker:
    a task's tests (parameter `task`), the training tests on the shared compiled run, and otherwise each module."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        params = getattr(item, "callspec", None)
        if params is not None and "task" in params.params:
            group = params.params["task"]
        elif "compiled" in getattr(item, "fixturenames", ()):
            group = "train-compiled-run"
        else:
            group = item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
