"""Test-session settings: CPU, no persistent compilation cache, faster-compiling XLA flags, test groups for two
workers, and few compiled programs alive at a time.

The suite runs on two pytest-xdist workers (`-n 2 --dist loadgroup` in pyproject.toml): XLA compiles on one core,
and compilation is most of the suite's time. Tests that share compiled programs stay on one worker, in one group:
a domain's env tests (its tasks share the model's compiled physics, `tests/envs/oracle.py`), the tests that use the
shared training run (`tests/train/conftest.py`), and each other module's tests.
"""

import gc
import os

# The suite and its fidelity tolerances are CPU's (a machine with a GPU still tests on CPU; JAX_PLATFORMS overrides).
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# jaxlib 0.10.2 aborted inside `executable.serialize()` writing MJX programs to the persistent compilation cache
# late in long test sessions (after some dozens of compiled tasks); tests and their subprocesses compile without it.
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
# XLA's CPU compiler with its older loop emitters and LLVM at -O1 compiles MJX programs about 40% faster (quadruped's
# reset and step: 62 s against 112 s) and runs them as fast (50 quadruped steps: 0.59 s against 0.60 s); the shared
# training program (tests/train/conftest.py) compiles in 71 s against 120 s and runs 1000 updates in 5.0 s against
# 4.8 s (one core each). Subprocesses inherit the flags (appended to any XLA_FLAGS set).
os.environ["XLA_FLAGS"] = " ".join(
    dict.fromkeys(
        [
            *os.environ.get("XLA_FLAGS", "").split(),
            "--xla_cpu_use_fusion_emitters=false",
            "--xla_backend_optimization_level=1",
        ]
    )
)

import jax
import pytest

jax.config.update("jax_enable_compilation_cache", False)

# Tests that use the session's shared training run (one compiled program) form one group.
SHARED_RUN_FIXTURE = "compiled"
CLI_CACHE_FIXTURE = "cli_cache"


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


def _group(item) -> str:
    """The worker group of a test: its task's domain, the shared training run, the command-line runs that share a
    compilation cache, or its module."""
    domain = _domain(_task(item))
    if domain:
        return f"domain-{domain}"
    if SHARED_RUN_FIXTURE in item.fixturenames:
        return "shared-training-run"
    if CLI_CACHE_FIXTURE in item.fixturenames:
        return "cli-runs"
    return item.module.__name__


# Seconds of the worker groups in a run of the default tier on 2 cores. pytest-xdist hands out groups in the order
# of their first test (with `--no-loadscope-reorder` in pyproject.toml; by default it orders them by their number of
# tests), so the suite lists the largest first and the two workers end together (longest processing time first);
# unlisted groups take a few seconds each and go last. A stale entry only costs balance, never a test.
GROUP_SECONDS = {
    "shared-training-run": 480,
    "tests.train.test_multihost": 271,
    "tests.train.test_benchmarks": 213,
    "cli-runs": 105,
    "tests.train.test_seeds_and_devices": 147,
    "tests.train.test_baseline": 124,
    "domain-swimmer": 112,
    "domain-finger": 111,
    "domain-quadruped": 91,
    "domain-manipulator": 71,
    "tests.agent.test_update": 50,
    "domain-cheetah": 43,
    "tests.envs.test_envs": 30,
    "domain-humanoid": 29,
    "tests.train.test_update_loop": 27,
    "domain-reacher": 25,
    "domain-hopper": 25,
    "tests.train.test_video": 24,
    "domain-cartpole": 23,
    "domain-pendulum": 22,
    "domain-fish": 22,
    "domain-walker": 21,
    "domain-ball_in_cup": 21,
    "domain-acrobot": 18,
    "domain-point_mass": 13,
}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Orders the tests largest worker group first, each domain's tests back to back and task by task (tests
    without a task in their order), and marks every test with its worker group; on a pytest-xdist worker, checks
    that the groups took effect."""
    items.sort(key=lambda item: (-GROUP_SECONDS.get(_group(item), 0), _domain(_task(item)), _task(item)))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    result = yield
    # pytest-xdist's worker suffixes each node id with its group, in its own implementation of this hook; with
    # pytest 9.2 that no longer takes effect and the groups are silently ignored (pytest-xdist issue 1386).
    if getattr(config.option, "loadgroup", False) and items and "@" not in items[0].nodeid:
        raise pytest.UsageError(
            "pytest-xdist ignored the test groups (pytest >= 9.2 with pytest-xdist 3.8); install the pinned "
            "versions: python -m pip install -c requirements.lock -e '.[dev]'"
        )
    return result


_current = {"domain": "", "task": ""}


def pytest_runtest_setup(item):
    """Before a new task's first test, drops the previous task's compiled stages; before a new domain's, also the
    shared physics and every other compiled program (many dozens of live MJX executables in one process have crashed
    XLA's CPU compiler)."""
    # Tests marked `unoptimized` compile with most XLA optimisations off (the flag is read when a program compiles).
    # Only tests that run tiny programs of a contact-free model: compilation is their time and about a quarter
    # shorter so, but unoptimised contact solvers run so slowly that manipulator's 24 copied-state steps took 400 s.
    jax.config.update("jax_disable_most_optimizations", item.get_closest_marker("unoptimized") is not None)
    task = _task(item)
    if not task or task == _current["task"]:
        return
    from tests.envs import oracle

    domain = _domain(task)
    if domain != _current["domain"]:
        oracle.clear()
        jax.clear_caches()
        _current["domain"] = domain
    else:
        oracle.compiled.cache_clear()
    gc.collect()
    _current["task"] = task
