"""Test helpers around dm_control as the oracle, a session-wide cache of compiled tasks, and the heavy-model mark."""

from __future__ import annotations

import functools

import jax
import pytest

import envs
from envs import registry
from envs.reference import flat_obs, load, physics_state

__all__ = ["Compiled", "compiled", "dm_control_resets", "flat_obs", "load", "params", "physics_state"]

# Domains whose MJX programs take minutes to compile on two CPU cores. Their per-task tests carry the `heavy` mark,
# which the default test run deselects (`python -m pytest -m heavy` runs them); `test_heavy_models.py` still steps
# one task of each in the default run.
HEAVY_DOMAINS = ("dog", "humanoid")
# Batch of every compiled reset: the invariants, the initial-state distribution and the domain tests share it.
RESET_BATCH = 64


def is_heavy(task: str) -> bool:
    """Whether a task's model is one of the heavy ones."""
    return registry.spec(task).dm_control[0] in HEAVY_DOMAINS


def params(tasks: list[str]) -> list:
    """Task names as pytest parameters, the heavy ones marked `heavy`."""
    return [pytest.param(t, marks=pytest.mark.heavy) if is_heavy(t) else t for t in tasks]


class Compiled:
    """One task's env with its jitted functions, built once per test session (compilation is the cost)."""

    def __init__(self, task: str, **overrides):
        self.task = task
        self.env = envs.make(task, **overrides)
        self.reset_batch = jax.jit(jax.vmap(self.env.reset))
        self.reset_to = jax.jit(self.env.reset_to)
        self.step = jax.jit(self.env.step)

    def reset(self, key):
        """`env.reset(key)`, through the compiled batched reset (one compilation serves every reset test)."""
        keys = jax.numpy.concatenate([key[None], jax.random.split(key, RESET_BATCH - 1)])
        return jax.tree.map(lambda x: x[0], self.reset_batch(keys))

    def copy_from(self, dm_env):
        """Our State at dm_control's current physics state (and its per-episode model state)."""
        return self.reset_to(**physics_state(dm_env, self.env))


@functools.cache
def compiled(task: str, physics: str = "dmc") -> Compiled:
    """Session-wide cache of compiled tasks, shared by every test module."""
    return Compiled(task, physics=physics)


def dm_control_resets(task: str, n: int, seed: int = 1000) -> list:
    """`n` initial observations of dm_control, one freshly loaded environment per seed (seed, seed + 1, ...)."""
    return [flat_obs(load(task, seed + i).reset()) for i in range(n)]


def model_differences(ours, theirs) -> list[str]:
    """Names of the compiled-model arrays (`mujoco.MjModel`) that differ between two models."""
    import numpy as np

    return [
        name
        for name in dir(theirs)
        if isinstance(value := getattr(theirs, name), np.ndarray)
        and not np.array_equal(value, getattr(ours, name), equal_nan=value.dtype.kind == "f")
    ]
