"""The humanoid model is dm_control's own under `physics=dmc`; `fast` drops only the sensors no task reads."""

from __future__ import annotations

import numpy as np

import envs
from envs import reference
from tests.envs import oracle


def test_dmc_model_equals_dm_control():
    """Every array of the compiled model is dm_control's."""
    ours = envs.make("humanoid-walk").mj_model
    theirs = reference.load("humanoid-walk", 0).physics.model.ptr
    different = oracle.model_differences(ours, theirs)
    assert not different, f"fields that differ from dm_control's model: {different}"


def test_fast_model_keeps_the_observed_sensor_only():
    """`fast` keeps the centre-of-mass velocity sensor (observed and rewarded) and the dynamics."""
    dmc, fast = envs.make("humanoid-walk").mj_model, envs.make("humanoid-walk", physics="fast").mj_model
    assert [fast.sensor(i).name for i in range(fast.nsensor)] == ["torso_subtreelinvel"]
    for name in ("body_mass", "body_inertia", "dof_damping", "jnt_stiffness", "geom_size", "actuator_gear"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(dmc, name), err_msg=name)
