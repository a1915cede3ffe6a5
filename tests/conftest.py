"""Test-session settings: CPU, no persistent compilation cache, and xdist groups."""

import os

# The suite and its fidelity tolerances are CPU's (a machine with a GPU still tests on CPU; JAX_PLATFORMS overrides).
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# jaxlib 0.10.2 crashed (segmentation fault inside `executable.serialize()`) writing some MJX programs to the
# persistent compilation cache late in long test sessions; tests and their subprocesses compile without it.
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"

import jax
import pytest

jax.config.update("jax_enable_compilation_cache", False)


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
