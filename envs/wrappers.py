"""Training wrappers: action repeat, time limit (truncation), vmap over envs, and auto-reset.

`wrap_for_training(env, num_envs, action_repeat)` composes them in the order the trainer uses:
AutoReset(Vmap(TimeLimit(ActionRepeat(env)))).

Episode ends: a time limit is a truncation (`info["truncation"] = 1`, `done` stays 0), so a TD target still
bootstraps there. AutoReset starts a freshly randomised episode in every env that ended (done or truncated) and keeps
the true last observation in `info["final_obs"]`; `reward`, `done` and `truncation` stay those of the last step.

Auto-reset cost: a reset can be far dearer than a step (cheetah settles for 200 physics steps), and a per-env select
would run it on every step. DMC episodes all have the same length and never terminate, so the envs of a batch end
together; AutoReset therefore resets the whole batch under one `lax.cond` when any env ended, and keeps the fresh
state only where an env ended. Under an outer `vmap` over seeds pass its `axis_name`, so the condition is reduced
over seeds and stays a real branch instead of becoming a select.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from envs.core import DmcEnv, State


class Wrapper:
    """Forwards everything to the wrapped env unless overridden."""

    def __init__(self, env: Any):
        self.env = env

    def reset(self, key: Array) -> State:
        """Resets the wrapped env."""
        return self.env.reset(key)

    def step(self, state: State, action: Array) -> State:
        """Steps the wrapped env."""
        return self.env.step(state, action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class ActionRepeat(Wrapper):
    """Repeats each action `repeat` control steps and sums the rewards (as the reference's frame skip)."""

    def __init__(self, env: Any, repeat: int):
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {repeat}")
        self.action_repeat = repeat

    def step(self, state: State, action: Array) -> State:
        """Steps `repeat` times with the same action; reward is the sum, done is sticky."""

        def body(carry, _):
            s, total, done = carry
            s = self.env.step(s, action)
            return (s, total + s.reward, jnp.maximum(done, s.done)), None

        zero = jnp.zeros_like(state.reward)
        (state, total, done), _ = jax.lax.scan(body, (state, zero, zero), None, length=self.action_repeat)
        return state.replace(reward=total, done=done)

    @property
    def control_dt(self) -> float:
        """Seconds per agent step."""
        return self.env.control_dt * self.action_repeat


class TimeLimit(Wrapper):
    """Truncates an episode after `max_steps` calls to `step`; sets `info['truncation']`, not `done`."""

    def __init__(self, env: Any, max_steps: int):
        super().__init__(env)
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps

    def reset(self, key: Array) -> State:
        """Resets and zeroes the step counter."""
        state = self.env.reset(key)
        info = {**state.info, "steps": jnp.zeros((), jnp.int32), "truncation": jnp.zeros((), jnp.float32)}
        return state.replace(info=info)

    def step(self, state: State, action: Array) -> State:
        """Steps and raises the truncation flag when the limit is reached without termination."""
        steps = state.info["steps"] + 1
        state = self.env.step(state, action)
        truncation = jnp.where((steps >= self.max_steps) & (state.done == 0), 1.0, 0.0)
        return state.replace(info={**state.info, "steps": steps, "truncation": truncation.astype(jnp.float32)})


class Vmap(Wrapper):
    """Runs `num_envs` copies in parallel: `reset(key)` splits the key, `step` takes a batch of actions."""

    def __init__(self, env: Any, num_envs: int):
        super().__init__(env)
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs

    def reset(self, key: Array) -> State:
        """Resets every env with its own key."""
        return self.reset_batch(jax.random.split(key, self.num_envs))

    def reset_batch(self, keys: Array) -> State:
        """Resets one env per key."""
        return jax.vmap(self.env.reset)(keys)

    def step(self, state: State, action: Array) -> State:
        """Steps every env with its own action."""
        return jax.vmap(self.env.step)(state, action)


class AutoReset(Wrapper):
    """Starts a fresh random episode wherever one ended, keeping the last observation in `info['final_obs']`."""

    def __init__(self, env: Vmap, axis_name: str | None = None):
        super().__init__(env)
        self.axis_name = axis_name

    def reset(self, key: Array) -> State:
        """Resets the batch and gives each env its own reset key stream."""
        key_reset, key_streams = jax.random.split(key)
        state = self.env.reset(key_reset)
        streams = jax.random.split(key_streams, self.env.num_envs)
        return state.replace(info={**state.info, "rng": streams, "final_obs": state.obs})

    def step(self, state: State, action: Array) -> State:
        """Steps the batch; resets the envs whose episode ended."""
        state = self.env.step(state, action)
        state = state.replace(info={**state.info, "final_obs": state.obs})
        ended = (state.done > 0) | (state.info["truncation"] > 0)
        any_ended = jnp.any(ended)
        if self.axis_name is not None:
            any_ended = jax.lax.pmax(any_ended, self.axis_name)
        return jax.lax.cond(any_ended, lambda s: self._reset_ended(s, ended), lambda s: s, state)

    def _reset_ended(self, state: State, ended: Array) -> State:
        """Replaces the physics state, observation and episode counters of the ended envs by fresh ones."""
        keys = jax.vmap(jax.random.split)(state.info["rng"])
        fresh = self.env.reset_batch(keys[:, 1])
        pick = functools.partial(where_ended, ended)
        info = dict(state.info)
        info["rng"] = keys[:, 0]
        for name in fresh.info:
            info[name] = pick(fresh.info[name], state.info[name])
        # The last step's truncation flag is part of the transition just made; the counters restart.
        info["truncation"] = state.info["truncation"]
        return state.replace(
            pipeline_state=pick(fresh.pipeline_state, state.pipeline_state),
            obs=pick(fresh.obs, state.obs),
            info=info,
        )


def where_ended(ended: Array, new: Any, old: Any) -> Any:
    """`new` in the envs (leading axis) where `ended`, else `old`, leaf by leaf."""

    def pick(a: Array, b: Array) -> Array:
        return jnp.where(jnp.reshape(ended, ended.shape + (1,) * (b.ndim - ended.ndim)), a, b)

    return jax.tree.map(pick, new, old)


def wrap_for_training(
    env: DmcEnv,
    num_envs: int,
    action_repeat: int = 1,
    episode_length: int | None = None,
    axis_name: str | None = None,
) -> AutoReset:
    """AutoReset(Vmap(TimeLimit(ActionRepeat(env)))), with `episode_length` in env (control) steps."""
    episode_length = episode_length or env.episode_length
    if episode_length % action_repeat:
        raise ValueError(f"episode_length {episode_length} is not a multiple of action_repeat {action_repeat}")
    wrapped = TimeLimit(ActionRepeat(env, action_repeat), episode_length // action_repeat)
    return AutoReset(Vmap(wrapped, num_envs), axis_name=axis_name)
