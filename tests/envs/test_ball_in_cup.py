"""Ball-in-cup-specific checks: collision-free initial states."""

from __future__ import annotations

import jax
import mujoco
import numpy as np

from tests.envs import oracle

TASK = "cup-catch"


def test_initial_states_are_collision_free():
    """Every reset passed the rejection loop: MuJoCo finds no contact in 64 initial states (about 18% of
    unconditioned ball positions penetrate the cup, so without the loop some of these would)."""
    c = oracle.compiled("cup-catch")
    states = c.resets(jax.random.key(7), oracle.RESET_BATCH)
    m = c.env.mj_model
    d = mujoco.MjData(m)
    for qpos in (np.asarray(s.pipeline_state.qpos, np.float64) for s in states):
        d.qpos[:] = qpos
        mujoco.mj_forward(m, d)
        assert d.ncon == 0, qpos
