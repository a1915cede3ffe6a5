"""Dog domain (dm_control `suite/dog.py`): a 38-actuator dog that stands, walks, trots or runs.

MJX differences from dm_control, each the nearest faithful substitute (measured effects in the docstring of
`tests/envs/tolerances/dog.py`):

- Ellipsoid contacts. MJX has no ellipsoid-box collision function (181 geom pairs of the model), and its
  signed-distance functions for ellipsoid-ellipsoid, ellipsoid-sphere and ellipsoid-capsule pairs report contacts that
  MuJoCo does not (a tooth 4 cm from the torso "penetrating" it by 10 cm) and miss torso-thigh contacts. So no
  ellipsoid meets anything but the floor (plane-ellipsoid is exact in MJX): the torso and skull ellipsoids keep their
  floor contacts and get a massless, invisible twin, a convex polyhedron within `_TWIN_TOLERANCE` of the ellipsoid,
  for every other contact; the 42 teeth become capsules along their long axis with the same extent and the mean
  cross-section radius. Contact-type bits (contype/conaffinity) keep every other pair as it was.
- Noslip: dm_control's dog runs 4 noslip iterations after each constraint solve; MJX has no noslip solver, so the
  model's `noslip_iterations` is set to 0 to say what is simulated.

Nothing purely visual needed removing: MJX accepts the model's skin.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig
from envs.registry import TaskSpec

# dm_control's episode length (s); floors are sized so that the target speed cannot leave them.
_TIME_LIMIT = 15.0
# Target forward speeds (m/s) of the centre of mass, in the torso frame.
_WALK_SPEED = 1.0
_TROT_SPEED = 3.0
_RUN_SPEED = 9.0
# Largest tilt (degrees) of the skull, torso and pelvis z-axes from vertical at which `upright` is 1.
_MAX_UPRIGHT_ANGLE = 30.0
# Fraction of the default pose's torso and pelvis heights at and above which `torso`/`pelvis` are 1.
_STAND_HEIGHT_FRACTION = 0.9
# Bodies whose world z-axis is observed (`z_projection`), in dm_control's order.
_PROJECTED_BODIES = ("skull", "torso", "pelvis")
# Sensors of the `inertial_sensors`, `foot_forces` and `touch_sensors` observations, in dm_control's order.
_INERTIAL_SENSORS = ("accelerometer", "velocimeter", "gyro")
_FOOT_FORCE_SENSORS = ("foot_L", "foot_R", "hand_L", "hand_R")
_TOUCH_SENSORS = ("palm_L", "palm_R", "sole_L", "sole_R")
# Walls, which dm_control removes for the stand and move tasks.
_WALLS = ("wall_px", "wall_py", "wall_nx", "wall_ny")
# Ellipsoids whose contacts other than with the floor go through a polyhedral twin.
_TWINNED_ELLIPSOIDS = ("collision_torso", "skull0_collision")
# Largest distance (m) from a twin's surface to its ellipsoid's (the twin's vertices lie on the ellipsoid).
_TWIN_TOLERANCE = 3e-3
# Contact-type bits. `_BASE` is the model's own bit; `_FLOOR` pairs the floor with the twinned ellipsoids; `_TWIN`
# pairs the twins with every geom their ellipsoid met, except the floor.
_BASE, _FLOOR, _TWIN = 1, 2, 4


class Dog(DmcEnv):
    """Dog; `move_speed` None rewards standing, otherwise moving forward at `move_speed` to twice that."""

    XML = "dog.xml"
    CONTROL_DT = 0.015
    TIME_LIMIT = _TIME_LIMIT
    # fast: timestep 0.005 s kept (3 sub-steps per control step); 4 solver and 8 line-search iterations
    # (dm_control: 100 / 50); no implicit joint damping; at most the 32 deepest contacts per contact dimension enter
    # the solver (all 5557 geom pairs are still tested: a bounding-sphere pair cull would keep the always-overlapping
    # neighbours of the spine and tail chains and drop real contacts).
    FAST = physics.Tuning(iterations=4, ls_iterations=8, eulerdamp=False, max_contact_points=32)

    def __init__(self, config: EnvConfig | None = None, *, move_speed: float | None):
        self.move_speed = move_speed
        super().__init__(config)
        m = self.mj_model
        hinges = np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
        self._hinge_qpos = m.jnt_qposadr[hinges]
        self._hinge_qvel = m.jnt_dofadr[hinges]
        self._torso = self._body_id("torso")
        self._pelvis = self._body_id("pelvis")
        self._projected = np.array([self._body_id(b) for b in _PROJECTED_BODIES])
        self._com_velocity = self._sensor_slice("torso_linvel")
        self._inertial = self._sensor_entries(_INERTIAL_SENSORS)
        self._foot_forces = self._sensor_entries(_FOOT_FORCE_SENSORS)
        self._touch = self._sensor_entries(_TOUCH_SENSORS)
        self._root = self._named_qpos_adr("root")
        self._ctrl_low, self._ctrl_high = m.actuator_ctrlrange.T.astype(np.float32)
        assert m.nu == m.na, "every dog actuator has one activation state"
        # dm_control measures these at the default pose at every reset; they are constants of the model.
        default = mujoco.MjData(m)
        mujoco.mj_forward(m, default)
        self._stand_height = _STAND_HEIGHT_FRACTION * default.xpos[[self._torso, self._pelvis], 2]
        self._body_weight = -m.opt.gravity[2] * m.body_subtreemass[self._torso]

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # dm_control's `make_model(floor_size=15 * speed, remove_ball=True)`; stand uses the walk speed.
        floor_size = (self.move_speed or _WALK_SPEED) * _TIME_LIMIT
        spec.geom("floor").size = [floor_size, floor_size, 0.1]
        spec.delete(spec.body("ball"))
        spec.delete(spec.geom("target"))
        spec.delete(spec.camera("ball"))
        spec.delete(spec.camera("head"))
        for wall in _WALLS:
            spec.delete(spec.geom(wall))
        spec.option.noslip_iterations = 0
        _replace_ellipsoid_contacts(spec)

    def _sensor_entries(self, names: tuple[str, ...]) -> np.ndarray:
        """sensordata indices of the named sensors, concatenated in the given order."""
        return np.concatenate([np.arange(s.start, s.stop) for s in map(self._sensor_slice, names)])

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        k_azimuth, k_velocity, k_act = jax.random.split(key, 3)
        # Random heading; horizontal root velocities and yaw rate ~ N(0, 2^2); activations uniform in ctrlrange.
        azimuth = jax.random.uniform(k_azimuth, (), minval=0.0, maxval=2 * jnp.pi)
        quat = jnp.array([jnp.cos(azimuth / 2), 0.0, 0.0, jnp.sin(azimuth / 2)])
        qpos = data.qpos.at[self._root + 3 : self._root + 7].set(quat)
        qvel = data.qvel.at[jnp.array([0, 1, 5])].set(2 * jax.random.normal(k_velocity, (3,)))
        act = jax.random.uniform(k_act, data.act.shape, minval=self._ctrl_low, maxval=self._ctrl_high)
        return data.replace(qpos=qpos, qvel=qvel, act=act)

    def _torso_com_velocity(self, data: mjx.Data) -> Array:
        """Centre-of-mass velocity in the torso frame."""
        return data.sensordata[self._com_velocity] @ data.xmat[self._torso]

    def _get_obs(self, data: mjx.Data) -> Array:
        return jnp.concatenate(
            [
                data.qpos[self._hinge_qpos],
                data.qvel[self._hinge_qvel],
                data.xpos[jnp.array([self._torso, self._pelvis]), 2],
                data.xmat[self._projected, 2].ravel(),
                self._torso_com_velocity(data),
                data.sensordata[self._inertial],
                data.sensordata[self._foot_forces],
                data.sensordata[self._touch],
                data.act,
            ]
        )

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        torso_height, pelvis_height = data.xpos[self._torso, 2], data.xpos[self._pelvis, 2]
        torso = rewards.tolerance(
            torso_height, bounds=(float(self._stand_height[0]), float("inf")), margin=float(self._stand_height[0])
        )
        pelvis = rewards.tolerance(
            pelvis_height, bounds=(float(self._stand_height[1]), float("inf")), margin=float(self._stand_height[1])
        )
        min_cosine = math.cos(math.radians(_MAX_UPRIGHT_ANGLE))
        upright = rewards.tolerance(
            data.xmat[self._projected, 2, 2],
            bounds=(min_cosine, float("inf")),
            sigmoid="linear",
            margin=min_cosine + 1,
            value_at_margin=0,
        )
        weight = float(self._body_weight)
        touch = rewards.tolerance(
            data.sensordata[self._touch].sum(),
            bounds=(weight, float("inf")),
            margin=weight,
            sigmoid="linear",
            value_at_margin=0.9,
        )
        reward = torso * pelvis * upright.prod() * touch
        terms = {"torso": torso, "pelvis": pelvis, "upright": upright.prod(), "touch": touch}
        if self.move_speed is None:
            return reward, terms
        forward = rewards.tolerance(
            self._torso_com_velocity(data)[0],
            bounds=(self.move_speed, 2 * self.move_speed),
            margin=max(1.0, self.move_speed),
            value_at_margin=0,
            sigmoid="linear",
        )
        forward = (4 * forward + 1) / 5
        return reward * forward, {**terms, "forward": forward}


def _replace_ellipsoid_contacts(spec: mujoco.MjSpec) -> None:
    """Teeth become capsules; the torso and skull ellipsoids meet the floor only, their twins everything else."""
    floor = spec.geom("floor")
    for geom in spec.geoms:
        # The other colliding ellipsoids are the 42 teeth.
        if geom.type == mujoco.mjtGeom.mjGEOM_ELLIPSOID and geom.contype and geom.name not in _TWINNED_ELLIPSOIDS:
            # Semi-axes sorted ascending with the longest along z: a z-capsule with the mean cross-section radius and
            # the same extent along z.
            a, b, c = geom.size
            assert a <= b <= c, f"{geom.name}: expected the longest semi-axis along z"
            radius = (a + b) / 2
            geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
            geom.size = [radius, c - radius, 0.0]
    colliding = [g for g in spec.geoms if (g.contype or g.conaffinity) and g.name != floor.name]
    assert all(g.contype == _BASE and g.conaffinity in (0, _BASE) for g in colliding), "unexpected contact bits"
    assert floor.contype == floor.conaffinity == _BASE
    floor.contype = floor.conaffinity = _BASE | _FLOOR
    twinned = [spec.geom(name) for name in _TWINNED_ELLIPSOIDS]
    for geom in colliding:
        if geom.name not in _TWINNED_ELLIPSOIDS:
            geom.contype = _BASE | _TWIN
            geom.conaffinity = _BASE | _TWIN if geom.conaffinity else 0
    for ellipsoid in twinned:
        mesh = spec.add_mesh(
            name=f"{ellipsoid.name}_twin", uservert=_ellipsoid_vertices(np.array(ellipsoid.size)).ravel()
        )
        twin = ellipsoid.parent.add_geom(
            name=f"{ellipsoid.name}_twin",
            type=mujoco.mjtGeom.mjGEOM_MESH,
            meshname=mesh.name,
            pos=ellipsoid.pos,
            quat=ellipsoid.quat,
            contype=_TWIN,
            conaffinity=_TWIN if ellipsoid.conaffinity else 0,
            condim=ellipsoid.condim,
            priority=ellipsoid.priority,
            friction=ellipsoid.friction,
            solref=ellipsoid.solref,
            solimp=ellipsoid.solimp,
            margin=ellipsoid.margin,
            gap=ellipsoid.gap,
            group=ellipsoid.group,
            rgba=[0, 0, 0, 0],
            mass=0.0,
        )
        # The ellipsoid's orientation may be given in an alternative form (euler angles); copy it as written.
        twin.alt = ellipsoid.alt
        assert twin.parent.explicitinertial, f"{ellipsoid.name}: the twin must not change the body's inertia"
        ellipsoid.contype, ellipsoid.conaffinity = _FLOOR, 0


def _ellipsoid_vertices(radii: np.ndarray) -> np.ndarray:
    """Vertices on an ellipsoid whose convex hull is within `_TWIN_TOLERANCE` of its surface (latitude rings)."""
    # A chord of angle a on a circle of radius r sags r (1 - cos(a / 2)). A facet between two rings sags in latitude
    # and longitude at once, so each direction gets half the tolerance, for the largest radius.
    step = 2 * math.acos(1 - _TWIN_TOLERANCE / (2 * float(radii.max())))
    n_lat = math.ceil(math.pi / step)
    n_lon = math.ceil(2 * math.pi / step)
    lat = np.linspace(0, math.pi, n_lat + 1)[1:-1]
    lon = np.linspace(0, 2 * math.pi, n_lon, endpoint=False)
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(lat) * np.cos(lon), np.sin(lat) * np.sin(lon), np.cos(lat)], -1).reshape(-1, 3)
    poles = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    return np.concatenate([unit, poles]) * radii


TASKS = {
    "dog-stand": TaskSpec(Dog, ("dog", "stand"), {"move_speed": None}),
    "dog-walk": TaskSpec(Dog, ("dog", "walk"), {"move_speed": _WALK_SPEED}),
    "dog-trot": TaskSpec(Dog, ("dog", "trot"), {"move_speed": _TROT_SPEED}),
    "dog-run": TaskSpec(Dog, ("dog", "run"), {"move_speed": _RUN_SPEED}),
}
