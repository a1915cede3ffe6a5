"""Evaluation of the deterministic policy: N full episodes in parallel envs, returns on the DMC 0-1000 scale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import envs


def make_evaluate(
    task_env: Any, act_deterministic: Callable[[Any, jax.Array], jax.Array], action_repeat: int, episodes: int
) -> Callable[[Any, jax.Array], jax.Array]:
    """evaluate(policy_params, key) -> [episodes] undiscounted returns of whole episodes (no exploration noise).

    Each env runs exactly one episode of dm_control's length (1000 env steps = 1000 / action_repeat agent steps);
    rewards are summed over every env step, so returns are on dm_control's 0-1000 scale.
    """
    agent_steps = task_env.episode_length // action_repeat
    env = envs.Vmap(envs.ActionRepeat(task_env, action_repeat), episodes)

    def evaluate(policy_params: Any, key: jax.Array) -> jax.Array:
        def body(carry, _):
            state, total = carry
            state = env.step(state, act_deterministic(policy_params, state.obs))
            return (state, total + state.reward), None

        state = env.reset(key)
        (_, returns), _ = jax.lax.scan(body, (state, jnp.zeros((episodes,), jnp.float32)), None, length=agent_steps)
        return returns

    return evaluate
