"""dm_control as the oracle: load the reference task, read its state and flat observation, copy state into ours."""

from __future__ import annotations

import functools

import jax
import numpy as np

import envs
from envs import registry


def load(task: str, seed: int):
    """dm_control's own environment for a registered task, seeded."""
    from dm_control import suite

    domain, name = registry.spec(task).dm_control
    return suite.load(domain, name, task_kwargs={"random": seed})


def flat_obs(timestep) -> np.ndarray:
    """dm_control's observation dict flattened in its own key order (what our envs must return)."""
    return np.concatenate([np.asarray(v, np.float64).ravel() for v in timestep.observation.values()])


def physics_state(dm_env) -> dict[str, np.ndarray]:
    """The parts of dm_control's physics state that define the next step."""
    d = dm_env.physics.data
    return {
        "qpos": np.array(d.qpos),
        "qvel": np.array(d.qvel),
        "act": np.array(d.act),
        "ctrl": np.array(d.ctrl),
        "qacc_warmstart": np.array(d.qacc_warmstart),
        "time": float(d.time),
    }


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
