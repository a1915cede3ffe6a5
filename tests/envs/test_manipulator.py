"""Manipulator: dm_control's per-task model edit and its collision-free initial states."""

from __future__ import annotations

import jax
import numpy as np

from tests.envs import oracle

TASK = "manipulator-bring-ball"
# What the mocap target changes in the compiled model; everything else must be dm_control's.
_MOCAP_FIELDS = {"body_mocapid", "body_weldid", "key_mpos", "key_mquat", "_sizes"}


def test_model_keeps_the_props_dm_control_keeps():
    """The compiled model is dm_control's bring_ball model (ball and target only), the target made mocap."""
    ours = oracle.compiled(TASK).env.mj_model
    theirs = oracle.load(TASK, 0).physics.model.ptr
    assert (ours.nbody, ours.ngeom, ours.nsite, ours.nmocap) == (theirs.nbody, theirs.ngeom, theirs.nsite, 1)
    different = [
        name
        for name in dir(theirs)
        if name not in _MOCAP_FIELDS
        and isinstance(value := getattr(theirs, name), np.ndarray)
        and not np.array_equal(value, getattr(ours, name), equal_nan=value.dtype.kind == "f")
    ]
    assert not different, f"fields that differ from dm_control's model: {different}"
    assert ours.body_mocapid[ours.body("target_ball").id] == 0


def test_initial_states_are_collision_free():
    """Every initial state of a batch has no contact, as dm_control's rejection loop guarantees."""
    c = oracle.compiled(TASK)
    states = c.resets(jax.random.key(11), oracle.RESET_BATCH)
    dist = np.stack([np.asarray(s.pipeline_state._impl.contact.dist) for s in states])
    assert dist.size and np.all(dist > 0)
