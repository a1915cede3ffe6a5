"""brax interop: a task through brax's own training wrappers, and brax's State contract."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.wrappers import training as brax_training

import envs
from envs.brax_adapter import wrap_for_brax_training
from tests.envs import oracle

# The cheapest model to compile: these tests check wrappers and brax's contract, not physics.
TASK = "pendulum-swingup"
N, EPISODE, REPEAT, STEPS = 3, 10, 2, 7


def _rollout(wrapped, key):
    """reset and STEPS steps of a brax-wrapped batch in one program; the states after reset and each step."""

    def run(key):
        state = wrapped.reset(jax.random.split(key, N))
        actions = jax.random.uniform(jax.random.fold_in(key, 1), (STEPS, N, 1), minval=-1.0, maxval=1.0)

        def body(s, a):
            s = wrapped.step(s, a)
            return s, (s.obs, s.reward, s.done, s.info["steps"], s.info["truncation"])

        return state, jax.lax.scan(body, state, actions)

    return oracle.jit(run)(key)


def test_brax_training_wrappers_run_over_a_task():
    """brax's `wrap` (vmap, episode with action repeat, auto-reset) under its `EvalWrapper`: the episode ends after
    EPISODE env steps = 5 agent steps (done and truncation set), rewards are sums of two env steps, and states
    keep one structure from reset through every step (what brax's scans need)."""
    env = envs.to_brax(oracle.compiled(TASK).env)
    wrapped = brax_training.EvalWrapper(brax_training.wrap(env, episode_length=EPISODE, action_repeat=REPEAT))
    first, (last, (obs, reward, done, steps, truncation)) = _rollout(wrapped, jax.random.PRNGKey(0))
    assert jax.tree.structure(first) == jax.tree.structure(last)
    assert obs.shape == (STEPS, N, env.observation_size)
    np.testing.assert_array_equal(np.asarray(steps[:, 0]), [2, 4, 6, 8, 10, 2, 4])
    np.testing.assert_array_equal(np.asarray(done[:, 0]), [0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(np.asarray(truncation[:, 0]), [0, 0, 0, 0, 1, 0, 0])
    assert np.all((np.asarray(reward) >= 0) & (np.asarray(reward) <= REPEAT))
    assert set(first.metrics) == set(last.metrics) and "reward/upright" in last.metrics


def test_fresh_auto_reset_redraws_the_initial_state():
    """`wrap_for_brax_training` restarts ended episodes from new draws of the initial-state distribution (brax's
    own auto-reset would restart from the first one)."""
    env = envs.to_brax(oracle.compiled(TASK).env)
    first, (_, (obs, _, done, steps, _)) = _rollout(wrap_for_brax_training(env, EPISODE, REPEAT), jax.random.PRNGKey(1))
    restart = int(np.argmax(np.asarray(done[:, 0]))) + 1
    assert restart == EPISODE // REPEAT and int(steps[restart, 0]) == REPEAT
    # The agent step after the reset moves from a fresh start, not from the first episode's initial state.
    new_start = np.asarray(obs[restart - 1])  # observation returned with done: the fresh initial state
    assert not np.allclose(new_start, np.asarray(first.obs)), "restarted from the first initial state"
    assert len({tuple(np.round(o, 5)) for o in new_start}) == N
    assert np.all(new_start[:, 2] == 0.0)  # a pendulum episode starts at rest


def test_reset_and_step_keep_brax_state_keys():
    """The adapter's own reset and step: brax's State, the same metrics and info keys, actions in [-1, 1]."""
    from brax.envs.base import State

    env = envs.to_brax(oracle.compiled(TASK).env)
    state = oracle.jit(env.reset)(jax.random.PRNGKey(0))
    after = oracle.jit(env.step)(state, jnp.ones(env.action_size))
    assert isinstance(state, State) and isinstance(after, State)
    assert set(state.metrics) == set(after.metrics) and set(state.info) == set(after.info)
    assert env.backend == "mjx" and env.unwrapped is env
