"""On-device replay: a ring buffer laid out time x env, sampling windows of H consecutive transitions of one env.

Layout: every array is [T, E, ...] with T = capacity // num_envs time steps of E envs, so one vector step is written
as one contiguous row (a single dynamic_update_slice, in place when the state is donated).

Stored per transition: obs, action, reward, terminated, done and the TRUE next observation (the pre-reset final
observation at an episode end, which a time-limit bootstrap needs). Memory per transition:
4 * (2 * obs_dim + action_dim + 3) bytes (float32), e.g. 172 B for cheetah-run (obs 17, action 6), so 1M
transitions take 172 MB per seed.

Sampling: B windows of H consecutive transitions of one env, uniform over every window that lies between the oldest
stored step and the write head (never across the head). A window may run past an episode end: the agent's masks
(`valid_mask`, `nstep_return`) cut the latent rollout and the n-step return at the first `done`, and the transition
there keeps its true next observation. So every stored transition is the first step of some window (an RL sample)
as soon as the H - 1 steps after it are written, the last steps before a truncation included.

Why not flashbax: its trajectory buffer stores batch-major [E, T] and takes the next observation of a step from the
following step, which after an auto-reset is the next episode's first observation; we want the true next
observation at truncation and a layout written by one row per vector step. The buffer is a few pure functions on a
`flax.struct` state, so it vmaps over seeds and is donated with the rest of the training state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from mjx_iqrl.agent import Batch


@struct.dataclass
class Transition:
    """One vector step of E envs (leading axis E)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    """Episode ended after this transition (terminated or truncated)."""
    next_obs: jax.Array
    """True next observation (pre-reset at an episode end)."""


@struct.dataclass
class ReplayState:
    """The ring buffer: arrays [T, E, ...], the write head and the number of filled time steps."""

    data: Transition
    head: jax.Array
    """int32: time index of the next write."""
    size: jax.Array
    """int32: filled time steps (<= T)."""


def bytes_per_transition(obs_size: int, action_size: int) -> int:
    """Memory of one stored transition (float32): obs and next_obs, action, reward, terminated, done."""
    return 4 * (2 * obs_size + action_size + 3)


def init(length: int, num_envs: int, obs_size: int, action_size: int) -> ReplayState:
    """An empty buffer of `length` time steps of `num_envs` envs."""
    z = lambda *shape: jnp.zeros((length, num_envs, *shape), jnp.float32)
    data = Transition(
        obs=z(obs_size),
        action=z(action_size),
        reward=z(),
        terminated=z(),
        done=z(),
        next_obs=z(obs_size),
    )
    return ReplayState(data=data, head=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def add(state: ReplayState, transition: Transition) -> ReplayState:
    """Writes one vector step at the head (overwriting the oldest step when full)."""
    length = state.data.reward.shape[0]
    data = jax.tree.map(
        lambda buf, x: jax.lax.dynamic_update_index_in_dim(buf, x.astype(buf.dtype), state.head, axis=0),
        state.data,
        transition,
    )
    return ReplayState(
        data=data,
        head=(state.head + 1) % length,
        size=jnp.minimum(state.size + 1, length),
    )


def window_starts(state: ReplayState, key: jax.Array, batch_size: int, horizon: int) -> tuple[jax.Array, jax.Array]:
    """(time index, env index) of `batch_size` window starts, uniform over the windows before the write head."""
    length, num_envs = state.data.reward.shape
    key_t, key_e = jax.random.split(key)
    oldest = jnp.where(state.size == length, state.head, 0)
    # Offsets from the oldest step such that the whole window lies before the head.
    offset = jax.random.randint(key_t, (batch_size,), 0, jnp.maximum(state.size - horizon + 1, 1))
    env = jax.random.randint(key_e, (batch_size,), 0, num_envs)
    return (oldest + offset) % length, env


def sample(state: ReplayState, key: jax.Array, batch_size: int, horizon: int) -> Batch:
    """B windows of `horizon` transitions as the agent's Batch (obs has horizon + 1 steps)."""
    length = state.data.reward.shape[0]
    t, e = window_starts(state, key, batch_size, horizon)
    steps = (t[:, None] + jnp.arange(horizon)[None]) % length  # [B, H]
    envs = e[:, None]
    d = state.data
    obs = jnp.concatenate([d.obs[steps[:, :1], envs], d.next_obs[steps, envs]], axis=1)
    return Batch(
        obs=obs,
        action=d.action[steps, envs],
        reward=d.reward[steps, envs],
        terminated=d.terminated[steps, envs],
        done=d.done[steps, envs],
    )
