"""Test-session settings: CPU, no persistent compilation cache, and one task's compiled programs alive at a time."""

import gc
import os

# The suite and its fidelity tolerances are CPU's (a machine with a GPU still tests on CPU; JAX_PLATFORMS overrides).
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# jaxlib 0.10.2 aborted inside `executable.serialize()` writing MJX programs to the persistent compilation cache
# late in long test sessions (after some dozens of compiled tasks); tests and their subprocesses compile without it.
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"

import jax

jax.config.update("jax_enable_compilation_cache", False)


def _task(item) -> str:
    """The task a test compiles: its `task` parameter, or its module's `TASK`; '' for none."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "task" in callspec.params:
        return callspec.params["task"]
    return getattr(item.module, "TASK", "")


def _domain(task: str) -> str:
    """dm_control's domain of a task ('' for none): its tasks share a model and its compiled physics."""
    if not task:
        return ""
    from envs import registry

    return registry.spec(task).dm_control[0]


def pytest_collection_modifyitems(config, items):
    """Runs each domain's tests back to back, task by task (tests without a task first, in their order)."""
    items.sort(key=lambda item: (_domain(_task(item)), _task(item)))


_current = {"domain": ""}


def pytest_runtest_setup(item):
    """Before a new domain's first test, drops the previous domain's compiled programs (many dozens of live MJX
    executables in one process have crashed XLA's CPU compiler)."""
    domain = _domain(_task(item))
    if domain and domain != _current["domain"]:
        from tests.envs import oracle

        oracle.clear()
        jax.clear_caches()
        gc.collect()
        _current["domain"] = domain
