"""The quadruped walk and run models, edited with MjSpec, compile to exactly dm_control's `make_model` models."""

from __future__ import annotations

import pytest

import envs
from envs import reference
from tests.envs import oracle


@pytest.mark.parametrize("task", ["quadruped-walk", "quadruped-run"])
def test_model_equals_dm_control_make_model(task):
    """Every array of the compiled model (floor size, removed walls, ball, target, terrain, rangefinders) is
    dm_control's; in particular no heightfield geom is left for MJX to collide."""
    ours = envs.make(task).mj_model
    theirs = reference.load(task, 0).physics.model.ptr
    different = oracle.model_differences(ours, theirs)
    assert not different, f"fields that differ from dm_control's model: {different}"
    assert ours.opt.noslip_iterations == theirs.opt.noslip_iterations == 0
