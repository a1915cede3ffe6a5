"""brax interop: any registered task as a `brax.envs.Env`, for brax's own wrappers and trainers (the baselines).

`to_brax(env)` hands a task to brax unchanged: same observations, rewards and physics. Its states are brax's `State`
(the same six fields as ours) with the same `metrics` and `info` keys after reset and step, so brax's scanning
wrappers (`brax.envs.wrappers.training.wrap`: episode with action repeat, auto-reset, vmap) run over it. brax's
policies act in [-1, 1]; the adapter maps that onto the task's action bounds (dm_control's are [-1, 1] already).

`wrap_for_brax_training` is what the baselines give brax's trainers (`wrap_env_fn`): brax's vmap and episode wrappers
(time limit, summed action repeat, `truncation`), and an auto-reset that starts every new episode from a freshly
randomised initial state, as dm_control and our trainer do. brax's own `AutoResetWrapper` restarts each env from the
first initial state it drew, which would train and evaluate the baselines on a fixed set of starts.

brax is imported when this module is; `envs` itself does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs import base as brax_base
from brax.envs.wrappers import training as brax_training

from envs.core import DmcEnv
from envs.wrappers import where_ended


class BraxEnv(brax_base.Env):
    """A task seen through brax's `Env` interface (single env; brax's wrappers add the batch)."""

    def __init__(self, env: DmcEnv):
        self.task = env
        low, high = (np.asarray(b, np.float32) for b in env.action_bounds)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{type(env).__name__} has unbounded actions; brax's policies need bounded ones")
        self._scale, self._centre = (high - low) / 2.0, (high + low) / 2.0

    def reset(self, rng: jax.Array) -> brax_base.State:
        """The task's reset as brax's State."""
        s = self.task.reset(rng)
        return brax_base.State(
            pipeline_state=s.pipeline_state, obs=s.obs, reward=s.reward, done=s.done, metrics=s.metrics, info=s.info
        )

    def step(self, state: brax_base.State, action: jax.Array) -> brax_base.State:
        """The task's step, the action mapped from [-1, 1] onto the task's bounds."""
        return self.task.step(state, action * self._scale + self._centre)

    @property
    def observation_size(self) -> int:
        """Length of the flat observation."""
        return self.task.observation_size

    @property
    def action_size(self) -> int:
        """Number of actuators."""
        return self.task.action_size

    @property
    def backend(self) -> str:
        """The physics backend brax reports."""
        return "mjx"

    @property
    def unwrapped(self) -> BraxEnv:
        """This adapter (brax's wrappers forward `unwrapped`)."""
        return self


def to_brax(env: DmcEnv) -> BraxEnv:
    """A registered task (`envs.make(...)`) as a `brax.envs.Env`."""
    return BraxEnv(env)


class FreshAutoReset(brax_base.Wrapper):
    """brax's auto-reset contract over `EpisodeWrapper(VmapWrapper(env))`, with freshly randomised restarts.

    As brax's `AutoResetWrapper`: an env whose step returned `done` restarts at the next step (its `steps` counter
    too), and `done`, `reward` and `truncation` of the ending step are kept. The restart state is a new draw of the
    task's initial-state distribution from the env's own key stream (`info["reset_rng"]`). The fresh draw runs
    under one batch-wide `lax.cond`, only when some env ended (DMC episodes end together).
    """

    def reset(self, rng: jax.Array) -> brax_base.State:
        """Resets the batch (`rng`: one key per env) and seeds each env's restart key stream."""
        state = self.env.reset(rng)
        streams = jax.vmap(lambda k: jax.random.fold_in(k, 1))(rng)
        return state.replace(info={**state.info, "reset_rng": streams})

    def step(self, state: brax_base.State, action: jax.Array) -> brax_base.State:
        """Steps the batch; envs that ended get a fresh initial state (physics and observation)."""
        info = dict(state.info)
        info["steps"] = jnp.where(state.done > 0, jnp.zeros_like(info["steps"]), info["steps"])
        state = self.env.step(state.replace(done=jnp.zeros_like(state.done), info=info), action)
        ended = state.done > 0

        def restart(s: brax_base.State) -> brax_base.State:
            keys = jax.vmap(jax.random.split)(s.info["reset_rng"])
            fresh = jax.vmap(self.env.unwrapped.reset)(keys[:, 1])
            return s.replace(
                pipeline_state=where_ended(ended, fresh.pipeline_state, s.pipeline_state),
                obs=where_ended(ended, fresh.obs, s.obs),
                info={**s.info, "reset_rng": where_ended(ended, keys[:, 0], s.info["reset_rng"])},
            )

        return jax.lax.cond(jnp.any(ended), restart, lambda s: s, state)


def wrap_for_brax_training(
    env: brax_base.Env,
    episode_length: int = 1000,
    action_repeat: int = 1,
    randomization_fn: Callable[..., Any] | None = None,
) -> brax_base.Wrapper:
    """brax's vmap and episode wrappers and `FreshAutoReset`: the `wrap_env_fn` the baselines give brax's trainers."""
    if randomization_fn is not None:
        raise ValueError("domain randomisation is not supported for these tasks")
    wrapped = brax_training.EpisodeWrapper(brax_training.VmapWrapper(env), episode_length, action_repeat)
    return FreshAutoReset(wrapped)
