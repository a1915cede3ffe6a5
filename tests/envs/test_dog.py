"""The dog model is dm_control's `make_model(floor_size, remove_ball=True)` with only the documented MJX edits."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from mujoco.mjx._src import collision_driver

import envs
from envs import reference
from envs.domains import dog

# Fields of the model that the MJX edits change by design: geom and mesh tables (two twins added), contact bits,
# and derived sizes, name and path addresses, and the dof lengths that MuJoCo derives from geom
# extents (only used by sleeping, which is off).
_EDITED_PREFIXES = ("geom_", "mesh_", "name_", "bvh_", "body_bvh", "body_con", "body_geom")
_EDITED_FIELDS = {"names_map", "dof_length", "tex_pathadr", "skin_pathadr", "_sizes"}


@pytest.fixture(scope="module")
def models():
    ours = envs.make("dog-trot").mj_model
    theirs = reference.load("dog-trot", 0).physics.model.ptr
    return ours, theirs


def _pair_names(m: mujoco.MjModel) -> set[tuple[str, str]]:
    return {tuple(sorted((m.geom(a).name, m.geom(b).name))) for a, b, _ in collision_driver.geom_pairs(m)}


def test_dynamics_equal_dm_control(models):
    """Bodies, inertias, joints, tendons, actuators, sensors and the original geoms (but the teeth's shape) are
    dm_control's."""
    ours, theirs = models
    different = [
        name
        for name in dir(theirs)
        if isinstance(value := getattr(theirs, name), np.ndarray)
        and not name.startswith(_EDITED_PREFIXES)
        and name not in _EDITED_FIELDS
        and not np.array_equal(value, getattr(ours, name), equal_nan=value.dtype.kind == "f")
    ]
    assert not different, f"fields that differ from dm_control's model: {different}"
    fields = ("pos", "quat", "bodyid", "condim", "priority", "friction", "solref", "solimp", "margin")
    for g in range(theirs.ngeom):
        name = theirs.geom(g).name
        for field in fields + (() if name in _teeth(theirs) else ("type", "size")):
            np.testing.assert_array_equal(getattr(ours.geom(name), field), getattr(theirs.geom(g), field), name)
    assert (ours.opt.noslip_iterations, theirs.opt.noslip_iterations) == (0, 4)


def _teeth(m: mujoco.MjModel) -> set[str]:
    """The colliding ellipsoids of dm_control's model other than the twinned torso and skull."""
    return {
        m.geom(g).name
        for g in range(m.ngeom)
        if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_ELLIPSOID
        and m.geom_contype[g]
        and m.geom(g).name not in dog._TWINNED_ELLIPSOIDS
    }


def test_teeth_are_capsules_of_the_same_extent(models):
    """Each tooth is a capsule along its ellipsoid's long axis, as long, with the mean cross-section radius."""
    ours, theirs = models
    teeth = _teeth(theirs)
    assert len(teeth) == 42
    for name in teeth:
        a, b, c = theirs.geom(name).size
        assert ours.geom(name).type == mujoco.mjtGeom.mjGEOM_CAPSULE
        radius, half_length = ours.geom(name).size[:2]
        np.testing.assert_allclose([radius, radius + half_length], [(a + b) / 2, c])


def test_only_the_twinned_ellipsoids_pairs_change(models):
    """Collision pairs are dm_control's, but the torso and skull ellipsoids meet everything other than the floor
    through their twins; no pair is left that MJX cannot collide or collides by signed-distance approximation."""
    ours, theirs = models

    def mapped(pair: tuple[str, str]) -> tuple[str, str]:
        if "floor" in pair:
            return pair
        return tuple(sorted(f"{n}_twin" if n in dog._TWINNED_ELLIPSOIDS else n for n in pair))

    assert _pair_names(ours) == {mapped(pair) for pair in _pair_names(theirs)}
    kinds = {tuple(int(t) for t in ours.geom_type[[a, b]]) for a, b, _ in collision_driver.geom_pairs(ours)}
    assert all(collision_driver.has_collision_fn(*k) for k in kinds)
    ellipsoid = int(mujoco.mjtGeom.mjGEOM_ELLIPSOID)
    assert {k for k in kinds if ellipsoid in k} == {(int(mujoco.mjtGeom.mjGEOM_PLANE), ellipsoid)}


def test_twins_collide_like_their_ellipsoids(models):
    """In random poses, each twin's distance to every geom it meets is its ellipsoid's within the twin tolerance."""
    ours, _ = models
    data = mujoco.MjData(ours)
    rng = np.random.default_rng(0)
    hinges = np.flatnonzero(ours.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
    mesh = mujoco.mjtGeom.mjGEOM_MESH
    pairs = [(a, b) if ours.geom_type[a] == mesh else (b, a) for a, b, _ in collision_driver.geom_pairs(ours)]
    pairs = [(twin, other) for twin, other in pairs if ours.geom_type[twin] == mesh and ours.geom_type[other] != mesh]
    assert len(pairs) > 100
    fromto = np.zeros(6)
    worst = 0.0
    for _ in range(50):
        data.qpos[ours.jnt_qposadr[hinges]] = rng.uniform(*ours.jnt_range[hinges].T)
        mujoco.mj_kinematics(ours, data)
        for twin, other in pairs:
            ellipsoid = ours.geom(ours.geom(twin).name.removesuffix("_twin")).id
            d_twin = mujoco.mj_geomDistance(ours, data, twin, other, 0.05, fromto)
            d_ellipsoid = mujoco.mj_geomDistance(ours, data, ellipsoid, other, 0.05, fromto)
            if min(d_twin, d_ellipsoid) < 0.05:
                worst = max(worst, abs(d_twin - d_ellipsoid))
    assert 0 < worst <= dog._TWIN_TOLERANCE
