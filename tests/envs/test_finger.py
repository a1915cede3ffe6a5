"""Finger-specific checks: collision-free initial states, and the fast profile's collision pruning."""

from __future__ import annotations

import jax
import mujoco
import numpy as np

import envs
from envs.domains import finger
from tests.envs import oracle

TASK = "finger-turn-easy"


def test_initial_states_are_collision_free():
    """Every reset passed the rejection loop: MuJoCo finds no contact in 64 initial states (about 9% of
    unconditioned draws collide, so without the loop some of these would)."""
    c = oracle.compiled("finger-turn-easy")
    states = c.resets(jax.random.key(7), oracle.RESET_BATCH)
    m = c.env.mj_model
    d = mujoco.MjData(m)
    for qpos in (np.asarray(s.pipeline_state.qpos, np.float64) for s in states):
        d.qpos[:] = qpos
        mujoco.mj_forward(m, d)
        assert d.ncon == 0, qpos


def test_fast_profile_only_drops_geoms_that_never_touch():
    """Over random joint angles, the geoms the fast profile switches off stay clear of every other geom; the
    spinner's decoration only comes near the fingertip once that has sunk 2 cm into the spinner's capsules."""
    fast = envs.make("finger-spin", physics="fast").mj_model
    off = [fast.geom(name).id for name in finger._NEVER_TOUCHING]
    assert not fast.geom_contype[off].any() and not fast.geom_conaffinity[off].any()
    m = oracle.compiled("finger-spin").env.mj_model
    d = mujoco.MjData(m)
    pairs = _collision_pairs(m, [m.geom(name).id for name in finger._NEVER_TOUCHING])
    assert len(pairs) == 13, "finger.xml has 15 collision pairs; the fast profile keeps fingertip-cap1 and -cap2"
    fingertip, decoration = m.geom("fingertip").id, m.geom("spinner_decoration").id
    caps = [m.geom("cap1").id, m.geom("cap2").id]
    rng = np.random.default_rng(0)
    low, high = m.jnt_range[:2].T
    for _ in range(2000):
        d.qpos[:2] = rng.uniform(low, high)
        d.qpos[2] = rng.uniform(-np.pi, np.pi)
        mujoco.mj_kinematics(m, d)
        deep = min(mujoco.mj_geomDistance(m, d, fingertip, g, 1.0, None) for g in caps) < -0.02
        for g1, g2 in pairs:
            if not (deep and {g1, g2} == {fingertip, decoration}):
                assert mujoco.mj_geomDistance(m, d, g1, g2, 1.0, None) > 0, (m.geom(g1).name, m.geom(g2).name)


def _collision_pairs(m: mujoco.MjModel, geoms: list[int]) -> list[tuple[int, int]]:
    """The pairs of `geoms` and any geom that MuJoCo's filters (contype/conaffinity, same body, parent) let collide."""
    pairs = set()
    for g1 in geoms:
        for g2 in range(m.ngeom):
            b1, b2 = m.geom_bodyid[g1], m.geom_bodyid[g2]
            related = b1 == b2 or (m.body_parentid[b1] == b2 != 0) or (m.body_parentid[b2] == b1 != 0)
            compatible = (m.geom_contype[g1] & m.geom_conaffinity[g2]) | (m.geom_contype[g2] & m.geom_conaffinity[g1])
            if compatible and not related:
                pairs.add((min(g1, g2), max(g1, g2)))
    return sorted(pairs)
