"""The quadruped walk and run models, edited with MjSpec, compile to exactly dm_control's `make_model` models."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs import reference


@pytest.mark.parametrize("task", ["quadruped-walk", "quadruped-run"])
def test_model_equals_dm_control_make_model(task):
    """Every array of the compiled model (floor size, removed walls, ball, target, terrain, rangefinders) is
    dm_control's; in particular no heightfield geom is left for MJX to collide."""
    ours = envs.make(task).mj_model
    theirs = reference.load(task, 0).physics.model.ptr
    different = [
        name
        for name in dir(theirs)
        if isinstance(value := getattr(theirs, name), np.ndarray)
        and not np.array_equal(value, getattr(ours, name), equal_nan=value.dtype.kind == "f")
    ]
    assert not different, f"fields that differ from dm_control's model: {different}"
    assert ours.opt.noslip_iterations == theirs.opt.noslip_iterations == 0
