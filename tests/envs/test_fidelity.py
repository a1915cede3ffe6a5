"""Fidelity against dm_control itself: observations, rewards, trajectories and initial-state distributions.

The expected values always come from dm_control (`suite.load`), never from our code. Tolerances per task are in
`TOLERANCES`: `copied` bounds |ours - dm_control| for observation and reward one control step after copying
dm_control's state into ours (float32 vs float64 physics), `copied_reward` the reward difference there;
`trajectory` bounds the largest observation difference over a free-running `TRAJECTORY_STEPS`-step rollout with the
same random actions, and `reward` the largest reward difference over it. Each is a few times the error measured with
mujoco 3.17.0 / mujoco-mjx 3.17.0 on CPU, so that a change in physics or observation code shows. They live in
`tests/envs/tolerances/<domain>.py`, next to the measured values.
"""

from __future__ import annotations

import numpy as np
import pytest

import envs
from tests.envs import oracle, tolerances

SEEDS = (0, 1, 2)
TRAJECTORY_STEPS = 25

TOLERANCES = tolerances.load()

TASKS = oracle.params([t for t in envs.list_tasks() if t in TOLERANCES])


def test_every_task_has_tolerances():
    """A registered task without a fidelity entry would silently escape these tests."""
    assert sorted(TOLERANCES) == envs.list_tasks()


def _random_actions(dm_env, n: int, seed: int) -> np.ndarray:
    spec = dm_env.action_spec()
    rng = np.random.default_rng(seed)
    return rng.uniform(spec.minimum, spec.maximum, size=(n, *spec.shape))


@pytest.mark.parametrize("task", TASKS)
def test_reset_observation_equals_dm_control(task):
    """Our observation of dm_control's initial state equals dm_control's own first observation."""
    c = oracle.compiled(task)
    for seed in SEEDS:
        dm_env = oracle.load(task, seed)
        expected = oracle.flat_obs(dm_env.reset())
        ours = np.asarray(c.copy_from(dm_env).obs)
        assert ours.shape == expected.shape == (c.env.observation_size,)
        np.testing.assert_allclose(ours, expected, atol=TOLERANCES[task]["copied"], rtol=0)


@pytest.mark.parametrize("task", TASKS)
def test_step_from_copied_state_equals_dm_control(task):
    """From dm_control's state along a random-action trajectory, one step gives dm_control's obs and reward."""
    c = oracle.compiled(task)
    tol, tol_reward = TOLERANCES[task]["copied"], TOLERANCES[task]["copied_reward"]
    for seed in SEEDS:
        dm_env = oracle.load(task, seed)
        dm_env.reset()
        for t, action in enumerate(_random_actions(dm_env, 8, seed)):
            state = c.copy_from(dm_env)
            ts = dm_env.step(action)
            ours = c.step(state, action.astype(np.float32))
            np.testing.assert_allclose(
                np.asarray(ours.obs), oracle.flat_obs(ts), atol=tol, rtol=0, err_msg=f"seed {seed} step {t}"
            )
            assert abs(float(ours.reward) - ts.reward) <= tol_reward, (
                f"seed {seed} step {t}: {float(ours.reward)} vs {ts.reward}"
            )


@pytest.mark.parametrize("task", TASKS)
def test_trajectory_stays_close_to_dm_control(task):
    """Free-running from the same initial state with the same actions, both trajectories stay within tolerance."""
    _trajectory_check(task, SEEDS[:1])


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_trajectory_stays_close_to_dm_control_second_seed(task):
    """The same with the second seed."""
    _trajectory_check(task, SEEDS[1:2])


def _trajectory_check(task: str, seeds: tuple[int, ...]) -> None:
    c = oracle.compiled(task)
    for seed in seeds:
        dm_env = oracle.load(task, seed)
        dm_env.reset()
        state = c.copy_from(dm_env)
        obs_err, reward_err = 0.0, 0.0
        for action in _random_actions(dm_env, TRAJECTORY_STEPS, seed + 100):
            ts = dm_env.step(action)
            state = c.step(state, action.astype(np.float32))
            obs_err = max(obs_err, float(np.max(np.abs(np.asarray(state.obs) - oracle.flat_obs(ts)))))
            reward_err = max(reward_err, abs(float(state.reward) - ts.reward))
        assert obs_err <= TOLERANCES[task]["trajectory"], f"seed {seed}: max obs difference {obs_err:.3g}"
        assert reward_err <= TOLERANCES[task]["reward"], f"seed {seed}: max reward difference {reward_err:.3g}"


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_initial_state_distribution_matches_dm_control(task):
    """Per observation dimension, the mean of 64 of our initial observations is that of 64 of dm_control's
    (within 5 standard errors, floored at 1e-3), and the spreads agree within a factor of two."""
    import jax

    c = oracle.compiled(task)
    n = oracle.RESET_BATCH
    ours = np.stack([np.asarray(s.obs, np.float64) for s in c.resets(jax.random.key(7), n)])
    theirs = np.stack(oracle.dm_control_resets(task, n))
    se = np.sqrt((ours.var(0) + theirs.var(0)) / n)
    assert np.all(np.abs(ours.mean(0) - theirs.mean(0)) <= 5 * se + 1e-3)
    spread_ours, spread_theirs = ours.std(0), theirs.std(0)
    varying = spread_theirs > 1e-6
    ratio = spread_ours[varying] / spread_theirs[varying]
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    # Dimensions constant in dm_control (float64) may vary by float32 rounding here (quadruped's sensors: ~2e-6).
    rounding = TOLERANCES[task]["constant_spread"] + 1e-6 * np.abs(theirs.mean(0)[~varying])
    assert np.all(spread_ours[~varying] <= rounding), spread_ours[~varying]
