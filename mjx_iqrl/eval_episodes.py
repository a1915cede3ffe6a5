"""Evaluation episodes of a deterministic policy, on the DMC 0-1000 return scale, on two backends.

`make_evaluate` runs N whole episodes in parallel MJX envs as one jittable function (the trainer calls it between
chunks); `dm_control_returns` runs them in real dm_control on the CPU, which is how results compare with the published
ones and what measures the cost of training with `physics=fast`. Both act every `action_repeat` control steps and sum
the rewards of every control step. The command line around them is `mjx_iqrl.evaluate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

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


def dm_control_returns(
    act: Callable[[np.ndarray], Any], task: str, episodes: int, seed: int, action_repeat: int
) -> np.ndarray:
    """Returns of `episodes` episodes of `task` in dm_control itself (CPU MuJoCo, seeds seed, seed + 1, ...).

    `act(obs [1, obs_dim]) -> actions [1, action_dim]` is the deterministic policy; it acts every `action_repeat`
    control steps.
    """
    from envs import reference

    returns = []
    for episode in range(episodes):
        dm_env = reference.load(task, seed + episode)
        timestep, total, t = dm_env.reset(), 0.0, 0
        action = None
        while not timestep.last():
            if t % action_repeat == 0:
                obs = reference.flat_obs(timestep).astype(np.float32)[None]
                action = np.asarray(act(obs))[0]
            timestep = dm_env.step(action)
            total += timestep.reward
            t += 1
        returns.append(total)
    return np.asarray(returns)
