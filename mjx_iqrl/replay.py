"""On-device replay: a ring buffer laid out time x env, sampling windows of H transitions that never cross a reset.

Layout: every array is [T, E, ...] with T = capacity // num_envs time steps of E envs, so one vector step is written
as one contiguous row (a single dynamic_update_slice, in place when the state is donated).

Stored per transition: obs, action, reward, terminated, done and the TRUE next observation (the pre-reset final
observation at an episode end, which a time-limit bootstrap needs). Memory per transition:
4 * (2 * obs_dim + action_dim + 3) bytes (float32), e.g. 172 B for cheetah-run (obs 17, action 6), so 1M
transitions take 172 MB per seed.

Sampling: B windows of H consecutive transitions of one env, uniform over valid windows. A window is valid when all
its slots lie between the oldest stored step and the write head (never across the head), and no episode ends inside
it except possibly at its last transition (whose next_obs is then the true final observation). Candidates are drawn
uniformly over the stored range (2B of them), invalid ones (a done before the last step; 0.8% for H = 5 in a
500-step episode) are dropped and the first B valid ones kept, which is uniform over valid windows. In the
vanishing case that fewer than B of the 2B candidates are valid, invalid ones fill the batch; the agent's masks
(`valid_mask`) then drop every step after the episode end, so even those stay correct.

Why not flashbax: its trajectory buffer samples fixed-length sequences that cross episode boundaries (it does not
know them) and stores batch-major [E, T]; we want windows that never cross a reset, true next observations at
truncation, and a layout written by one row per vector step. The buffer is a few pure functions on a
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
    """(time index, env index) of `batch_size` valid window starts, uniform over valid windows."""
    length, num_envs = state.data.reward.shape
    candidates = 2 * batch_size
    key_t, key_e = jax.random.split(key)
    oldest = jnp.where(state.size == length, state.head, 0)
    # Offsets from the oldest step such that the whole window lies before the head.
    offset = jax.random.randint(key_t, (candidates,), 0, jnp.maximum(state.size - horizon + 1, 1))
    t = (oldest + offset) % length
    e = jax.random.randint(key_e, (candidates,), 0, num_envs)
    steps = (t[:, None] + jnp.arange(horizon - 1)[None]) % length
    ends_inside = jnp.any(state.data.done[steps, e[:, None]] > 0, axis=1)
    order = jnp.argsort(ends_inside, stable=True)[:batch_size]
    return t[order], e[order]


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
