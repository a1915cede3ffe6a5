"""A tiny pure-JAX env with the task API, for testing wrappers and loops without compiling physics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from envs.core import State


class CountingEnv:
    """obs = [position, steps taken]; position starts uniform in [-1, 1) and moves by the action.

    Reward is 0.5 + 0.1 * action (in [0.4, 0.6] for actions in [-1, 1]). Terminates (done=1) when
    |position| exceeds `terminate_at` (never by default, as DMC tasks). Counts how often `step` is traced.
    """

    action_size = 1
    observation_size = 2
    control_dt = 0.01
    episode_length = 1000

    def __init__(self, terminate_at: float = float("inf")):
        self.terminate_at = terminate_at
        self.step_traces = 0
        self.action_bounds = (jnp.array([-1.0]), jnp.array([1.0]))

    def reset(self, key: Array) -> State:
        """Random position, zero step count."""
        position = jax.random.uniform(key, (), minval=-1.0, maxval=1.0)
        zero = jnp.zeros(())
        return State(
            pipeline_state=jnp.stack([position, zero]), obs=jnp.stack([position, zero]), reward=zero, done=zero
        )

    def step(self, state: State, action: Array) -> State:
        """Moves by the action and counts the step."""
        self.step_traces += 1
        position = state.pipeline_state[0] + action[0]
        count = state.pipeline_state[1] + 1
        obs = jnp.stack([position, count])
        done = (jnp.abs(position) > self.terminate_at).astype(jnp.float32)
        return state.replace(pipeline_state=obs, obs=obs, reward=0.5 + 0.1 * action[0], done=done)

    @property
    def unwrapped(self):
        """The env itself."""
        return self
