"""The on-device replay: windows of one env that never cross the write head, true final observations, every stored
transition sampleable, wrap-around."""

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


def test_windows_keep_one_env_and_the_true_final_obs_up_to_the_first_episode_end():
    """Episodes end after steps 9, 19 and 29 (length 10). Windows may run past an episode end; up to and including
    the first `done` they are consecutive steps of one env, and the transition at the end carries the pre-reset
    final observation."""
    state = _fill(length=64, steps=30, episode_ends={9, 19, 29})
    b = _sample(state)
    obs = b.obs[..., 0]
    env = obs[:, 0] // 1000
    t = obs[:, 0] % 1000
    valid = np.cumprod(np.concatenate([np.ones_like(b.done[:, :1]), 1 - b.done[:, :-1]], axis=1), axis=1)
    for k in range(H):
        inside = valid[:, k] > 0
        np.testing.assert_array_equal(b.action[inside, k, 0], obs[inside, 0] + k)  # step t + k of the same env
        end = inside & (b.done[:, k] > 0)
        np.testing.assert_array_equal(obs[end, k + 1], -(obs[end, 0] + k + 1))  # the true final observation
        np.testing.assert_array_equal(obs[inside & ~end, k + 1], obs[inside & ~end, 0] + k + 1)
    assert (b.done[:, :-1] > 0).any(), "no window runs past an episode end"
    assert set(env.astype(int)) == set(range(E))
    # Every start that has H steps written after it: 0 .. 30 - H.
    assert set(t.astype(int)) == set(range(30 - H + 1))


def test_every_stored_transition_can_be_drawn_as_an_rl_sample():
    """The first step of a window is what the critic and actor train on: every stored (env, step) is one, the last
    steps of each episode (before a truncation) included, except the H - 1 newest steps, whose windows are not
    complete yet. Draws are uniform over them."""
    steps = 40
    state = _fill(length=64, steps=steps, episode_ends={9, 19, 29, 39})
    b = _sample(state, n_batches=40, batch=128)
    first = b.obs[:, 0, 0].astype(int)
    expected = {1000 * e + t for e in range(E) for t in range(steps - H + 1)}
    assert set(first) == expected
    assert {9, 19, 29} <= {x % 1000 for x in first}  # the steps just before a truncation
    counts = np.bincount(np.unique(first, return_inverse=True)[1])
    mean = len(first) / len(expected)
    assert np.all(np.abs(counts - mean) < 5 * np.sqrt(mean))


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
