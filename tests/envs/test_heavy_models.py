"""One control step of each heavy model (dog, humanoid) in the default test run, against dm_control.

Their full per-task tests carry the `heavy` mark (minutes of compilation each); this compiles one program per model,
dm_control's state copied in and one step taken, and checks it against dm_control's own step.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tests.envs import oracle, tolerances

TOLERANCES = tolerances.load()


@pytest.mark.parametrize("task", ["dog-walk", "humanoid-walk"])
def test_one_step_from_dm_control_state(task):
    """Copied state and one random-action step: observation and reward equal dm_control's within the copied-state
    tolerance; the observation has `observation_size` finite entries and the reward lies in [0, 1]."""
    assert oracle.is_heavy(task)
    env = oracle.compiled(task).env
    dm_env = oracle.load(task, 0)
    initial = oracle.flat_obs(dm_env.reset())
    state = oracle.physics_state(dm_env, env)
    spec = dm_env.action_spec()
    action = np.random.default_rng(0).uniform(spec.minimum, spec.maximum, spec.shape)
    expected = dm_env.step(action)

    @jax.jit
    def copy_and_step(physics_state, action):
        first = env.reset_to(**physics_state)
        return first, env.step(first, action)

    first, after = copy_and_step(state, action.astype(np.float32))
    tol = TOLERANCES[task]
    np.testing.assert_allclose(np.asarray(first.obs), initial, atol=tol["copied"], rtol=0)
    np.testing.assert_allclose(np.asarray(after.obs), oracle.flat_obs(expected), atol=tol["copied"], rtol=0)
    assert abs(float(after.reward) - expected.reward) <= tol["copied_reward"]
    assert after.obs.shape == (env.observation_size,) and np.all(np.isfinite(np.asarray(after.obs)))
    assert 0.0 <= float(after.reward) <= 1.0 and float(after.done) == 0.0
