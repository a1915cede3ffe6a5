"""The replay batch the agent trains on, and its episode-boundary arithmetic (masks and n-step returns)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Batch:
    """B windows of H consecutive transitions from one environment each.

    A step after the first `done` in a window belongs to another episode and is masked (see `valid_mask`).
    """

    obs: jax.Array
    """[B, H + 1, obs_dim]; obs[:, t + 1] is the TRUE next observation of transition t (pre-reset at an episode end)."""
    action: jax.Array
    """[B, H, act_dim]: action taken in obs[:, t]."""
    reward: jax.Array
    """[B, H]: reward of transition t."""
    terminated: jax.Array
    """[B, H]: 1.0 where the episode terminated after transition t (no bootstrap)."""
    done: jax.Array
    """[B, H]: 1.0 where the episode ended after transition t, by termination or truncation."""


@struct.dataclass
class NStepReturn:
    """The pieces of an n-step TD target y = reward + discount * Q(z(obs[:, next_index]), .)."""

    reward: jax.Array
    """[B]: sum_{t<m} gamma^t r_t."""
    discount: jax.Array
    """[B]: gamma^m * (1 - terminated_{m-1})."""
    next_index: jax.Array
    """[B] int32: m, the window index of the bootstrap observation."""


def valid_mask(done: jax.Array) -> jax.Array:
    """valid_t = prod_{k<t} (1 - done_k) along the last axis: 1 until (and including) the first done step.

    Transition t is still valid when done_t = 1, since obs[t + 1] is its true final observation; every later step
    belongs to the next episode. (The reference masks with done_t of step t alone, which is not cumulative.)
    """
    alive = 1.0 - done.astype(jnp.float32)
    return jnp.cumprod(jnp.concatenate([jnp.ones_like(alive[..., :1]), alive[..., :-1]], axis=-1), axis=-1)


def nstep_return(reward: jax.Array, terminated: jax.Array, done: jax.Array, nstep: int, gamma: float) -> NStepReturn:
    """n-step return from window position 0, cut at the first episode end (REFERENCE.md 1.6, corrected discount).

    m = min(nstep, index of the first done + 1); R = sum_{t<m} gamma^t r_t; the bootstrap uses obs[:, m] with
    discount gamma^m * (1 - terminated_{m-1}). A truncation inside the window still bootstraps (from the true final
    observation); a termination does not.
    """
    if not 1 <= nstep <= reward.shape[-1]:
        raise ValueError(f"nstep={nstep} must be in [1, {reward.shape[-1]}] for windows of {reward.shape[-1]} steps")
    included = valid_mask(done[..., :nstep])
    m = jnp.sum(included, axis=-1).astype(jnp.int32)
    powers = gamma ** jnp.arange(nstep, dtype=jnp.float32)
    ret = jnp.sum(included * powers * reward[..., :nstep].astype(jnp.float32), axis=-1)
    last_terminated = jnp.take_along_axis(terminated[..., :nstep], (m - 1)[..., None], axis=-1)[..., 0]
    discount = jnp.power(jnp.float32(gamma), m.astype(jnp.float32)) * (1.0 - last_terminated.astype(jnp.float32))
    return NStepReturn(reward=ret, discount=discount, next_index=m)
