"""One compiled control step of each heavy model (dog, humanoid) against dm_control: humanoid's in the default
test run, dog's (three minutes of compilation on 2 cores, more than any other test) in the second tier.

Their per-task tests carry the `heavy` mark and belong to the second tier (minutes of compilation each). Here each
model's step is the one MJX program compiled: dm_control's state after its reset, forwarded by MuJoCo in our model,
is the first state, so MJX's forward pass (the reset's, which the per-task tests check) is not compiled as well;
in the default run on 2 cores that cut the dog's tests from 444 s to 238 s (both at -O1; at -O0, 182 s).
"""

from __future__ import annotations

import numpy as np
import pytest

import envs
from tests.envs import oracle, tolerances

TOLERANCES = tolerances.load()


@pytest.mark.parametrize("task", [pytest.param("dog-walk", marks=pytest.mark.slow), "humanoid-walk"])
def test_one_step_from_dm_control_state(task):
    """From dm_control's initial state, one random-action step of our compiled step gives dm_control's observation
    and reward within the copied-state tolerance; our observation of the initial state is dm_control's; the
    observation has `observation_size` finite entries and the reward lies in [0, 1]."""
    assert oracle.is_heavy(task)
    env = envs.make(task)
    dm_env = oracle.load(task, 0)
    initial = oracle.flat_obs(dm_env.reset())
    first = oracle.jit(env.first_state)(oracle.forwarded_by_mujoco(dm_env, env))
    spec = dm_env.action_spec()
    action = np.random.default_rng(0).uniform(spec.minimum, spec.maximum, spec.shape)
    expected = dm_env.step(action)
    after = oracle.jit(env.step)(first, action.astype(np.float32))
    tol = TOLERANCES[task]
    np.testing.assert_allclose(np.asarray(first.obs), initial, atol=tol["copied"], rtol=0)
    np.testing.assert_allclose(np.asarray(after.obs), oracle.flat_obs(expected), atol=tol["copied"], rtol=0)
    assert abs(float(after.reward) - expected.reward) <= tol["copied_reward"]
    assert after.obs.shape == (env.observation_size,) and np.all(np.isfinite(np.asarray(after.obs)))
    assert 0.0 <= float(after.reward) <= 1.0 and float(after.done) == 0.0
