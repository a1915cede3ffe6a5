"""Test helpers around dm_control as the oracle, and a session-wide cache of compiled tasks."""

from __future__ import annotations

import functools

import jax

import envs
from envs.reference import flat_obs, load, physics_state

__all__ = ["Compiled", "compiled", "flat_obs", "load", "physics_state"]


class Compiled:
    """One task's env with its jitted functions, built once per test session (compilation is the cost)."""

    def __init__(self, task: str, **overrides):
        self.task = task
        self.env = envs.make(task, **overrides)
        self.reset_batch = jax.jit(jax.vmap(self.env.reset))
        self.reset_to = jax.jit(self.env.reset_to)
        self.step = jax.jit(self.env.step)

    def reset(self, key):
        """One reset, through the compiled batched reset (one compilation serves both)."""
        return jax.tree.map(lambda x: x[0], self.reset_batch(key[None]))

    def copy_from(self, dm_env):
        """Our State at dm_control's current physics state."""
        return self.reset_to(**physics_state(dm_env))


@functools.cache
def compiled(task: str, physics: str = "dmc") -> Compiled:
    """Session-wide cache of compiled tasks, shared by every test module."""
    return Compiled(task, physics=physics)
