"""The on-device replay: windows never cross a reset or the write head; true final observations; wrap-around."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl import replay

E, H = 3, 4


def _fill(length: int, steps: int, episode_ends: set[int]) -> replay.ReplayState:
    """`steps` vector steps of E envs. obs of step t in env e is 1000 * e + t; next_obs is t + 1, except at an
    episode end where it is the final observation, marked by a negative value -(1000 * e + t + 1)."""
    state = replay.init(length, E, obs_size=1, action_size=1)
    add = jax.jit(replay.add)
    for t in range(steps):
        env_ids = np.arange(E)
        ended = np.full(E, float(t in episode_ends))
        obs = (1000 * env_ids + t).astype(np.float32)[:, None]
        next_obs = np.where(ended[:, None] > 0, -(obs + 1), obs + 1).astype(np.float32)
        state = add(
            state,
            replay.Transition(
                obs=jnp.asarray(obs),
                action=jnp.asarray(obs),
                reward=jnp.asarray(obs[:, 0]),
                terminated=jnp.zeros(E),
                done=jnp.asarray(ended),
                next_obs=jnp.asarray(next_obs),
            ),
        )
    return state


def _sample(state, n_batches=20, batch=64):
    sample = jax.jit(replay.sample, static_argnums=(2, 3))
    batches = [sample(state, jax.random.PRNGKey(i), batch, H) for i in range(n_batches)]
    return jax.tree.map(lambda *x: np.concatenate([np.asarray(v) for v in x]), *batches)


def test_memory_per_transition():
    # cheetah-run: obs 17, action 6 -> 4 * (2 * 17 + 6 + 3) = 172 bytes.
    assert replay.bytes_per_transition(17, 6) == 172
    state = replay.init(10, 2, 17, 6)
    stored = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state.data))
    assert stored == 10 * 2 * 172


def test_windows_never_cross_a_reset_and_end_with_the_true_final_obs():
    """Episodes end after steps 9 and 19 (length 10): no window has a done before its last transition, and a
    window ending at an episode end carries the pre-reset final observation."""
    state = _fill(length=64, steps=30, episode_ends={9, 19, 29})
    b = _sample(state)
    assert np.all(b.done[:, :-1] == 0), "a window crosses an episode end"
    obs = b.obs[..., 0]
    t = obs[:, 0] % 1000
    # Consecutive steps of one env inside one episode.
    np.testing.assert_array_equal(obs[:, 1:-1], obs[:, :1] + np.arange(1, H))
    ends = b.done[:, -1] > 0
    assert ends.any() and (~ends).any()
    np.testing.assert_array_equal(obs[ends, -1], -(obs[ends, 0] + H))
    np.testing.assert_array_equal(obs[~ends, -1], obs[~ends, 0] + H)
    # Starts cover every valid position of every episode: 10 - H + 1 = 7 per episode.
    assert set(t.astype(int)) == {s for e in (0, 10, 20) for s in range(e, e + 10 - H + 1)}


def test_wrap_around_keeps_the_newest_steps_and_never_crosses_the_head():
    """Capacity 16, 40 steps written: only steps 24..39 remain, and windows lie within them."""
    state = _fill(length=16, steps=40, episode_ends=set())
    assert int(state.size) == 16 and int(state.head) == 40 % 16
    b = _sample(state)
    t = b.obs[:, 0, 0] % 1000
    assert t.min() == 24 and t.max() == 39 - H + 1
    np.testing.assert_array_equal(b.obs[:, :, 0] % 1000, t[:, None] + np.arange(H + 1))


def test_sampling_is_uniform_over_valid_windows():
    """With no episode ends, each of the 13 * 3 valid (start, env) windows is drawn about equally often."""
    state = _fill(length=16, steps=16, episode_ends=set())
    b = _sample(state, n_batches=60, batch=128)
    keys = b.obs[:, 0, 0].astype(int)
    counts = np.bincount(np.unique(keys, return_inverse=True)[1])
    assert len(counts) == (16 - H + 1) * E
    expected = len(keys) / len(counts)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


@pytest.mark.parametrize("steps", [H, H + 1])
def test_sampling_with_just_enough_data(steps):
    """With `steps` >= H stored steps every window is complete (no padding from empty slots)."""
    state = _fill(length=32, steps=steps, episode_ends=set())
    b = _sample(state, n_batches=2, batch=8)
    assert b.obs[:, 0, 0].min() >= 0
    np.testing.assert_array_equal(b.obs[:, :, 0] % 1000, b.obs[:, :1, 0] % 1000 + np.arange(H + 1))
