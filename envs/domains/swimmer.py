"""Swimmer domain (dm_control `suite/swimmer.py`): an N-link planar swimmer in a viscous fluid reaching a target.

dm_control generates the N-link chain from `swimmer.xml` with lxml (`_make_model`); `_edit_spec` builds the same
model with `mujoco.MjSpec`: bodies `segment_i` (0.1 m apart, each with a visual capsule, an inertial box and a site
`site_i`), hinges `joint_i` limited to +-360/N degrees, motors `motor_i`, sensors `velocimeter_i` and `gyro_i`, and
the tracking cameras moved out by N/6. `tests/envs/test_swimmer.py` checks the compiled model against dm_control's.

dm_control moves the target per episode by editing the model (`geom_pos`); MJX models are shared by every episode,
so the target geom becomes the only geom of a mocap body `target` at the same place, and an episode's target lives
in `data.mocap_pos`. Kinematics, sensors and physics are unchanged (the target never collides: contacts are off).
The light over the target follows it in dm_control; lights only matter for rendering and stay put here.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig, random_joint_positions
from envs.registry import TaskSpec

# Distance (m) between consecutive segments of the chain.
_SEGMENT_SPACING = 0.1
# Probability that the target is drawn close to the origin, and the half-widths (m) of the close and far squares.
_P_CLOSE_TARGET = 0.2
_CLOSE_TARGET_BOX = 0.3
_FAR_TARGET_BOX = 2.0
# Sensors before the per-segment ones: nose_pos, target_pos, head_xaxis, head_yaxis (3 values each).
_FRAME_SENSOR_DIMS = 12
# In each (velocimeter, gyro) pair of 6 values: local x and y linear velocity and z angular velocity.
_VX_VY_WZ = np.array([0, 1, 5])


def build_chain(spec: mujoco.MjSpec, n_bodies: int) -> None:
    """Adds dm_control's N-link chain to `swimmer.xml`'s spec in place (dm_control's `_make_model`)."""
    if n_bodies < 3:
        raise ValueError(f"a swimmer needs at least 3 bodies, got {n_bodies}")
    swimmer = spec.find_default("swimmer")
    visual, inertial = spec.find_default("visual"), spec.find_default("inertial")
    limit = 360.0 / n_bodies
    if not spec.compiler.degree:
        limit = np.deg2rad(limit)
    parent = spec.body("head")
    for i in range(n_bodies - 1):
        child = parent.add_body(name=f"segment_{i}", pos=[0, _SEGMENT_SPACING, 0])
        child.add_geom(default=visual, name=f"visual_{i}")
        child.add_geom(default=inertial, name=f"inertial_{i}")
        child.add_site(default=swimmer, name=f"site_{i}")
        child.add_joint(default=swimmer, name=f"joint_{i}", range=[-limit, limit])
        spec.add_actuator(name=f"motor_{i}", target=f"joint_{i}", trntype=mujoco.mjtTrn.mjTRN_JOINT)
        for kind, prefix in (
            (mujoco.mjtSensor.mjSENS_VELOCIMETER, "velocimeter"),
            (mujoco.mjtSensor.mjSENS_GYRO, "gyro"),
        ):
            spec.add_sensor(name=f"{prefix}_{i}", type=kind, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=f"site_{i}")
        parent = child
    for camera in spec.body("head").cameras:
        if camera.mode == mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM:
            camera.pos = camera.pos * (n_bodies / 6.0)


def disable_collisions(spec: mujoco.MjSpec) -> None:
    """Clears every geom's contype and conaffinity, so that MJX builds no collision functions.

    Exact for models whose collisions dm_control never computes (contacts or constraints disabled): MuJoCo skips
    collision detection there, but MJX checks every candidate pair at `put_model` and lacks some (ellipsoid-box).
    """
    for geom in spec.geoms:
        geom.contype = 0
        geom.conaffinity = 0


def target_to_mocap(spec: mujoco.MjSpec, geom_name: str) -> None:
    """Moves a static world geom into a new mocap body of the same name at its position (geom at the body's origin).

    The geom gets no mass: in the world body its mass counted nowhere, and so it stays (world subtree mass and com).
    """
    geom = spec.geom(geom_name)
    attributes = {"type": geom.type, "size": geom.size, "material": geom.material, "rgba": geom.rgba, "mass": 0.0}
    attributes.update(contype=geom.contype, conaffinity=geom.conaffinity, group=geom.group)
    pos, quat = np.array(geom.pos), np.array(geom.quat)
    spec.delete(geom)
    body = spec.worldbody.add_body(name=geom_name, pos=pos, quat=quat, mocap=True)
    body.add_geom(name=geom_name, **attributes)


class Swimmer(DmcEnv):
    """Planar swimmer with `n_links` links rewarded for bringing its nose to a random target."""

    XML = "swimmer.xml"
    CONTROL_DT = 0.03
    TIME_LIMIT = 30.0
    # fast: timestep 0.003 s (dm_control 0.002 s: 10 instead of 15 sub-steps), 4 solver / 8 line-search iterations
    # (dm_control: 100 / 50; joint limits are the only constraints) and no implicit joint damping (the joints have
    # none, so this is exact). Over 1000 random-action steps body velocities differ by up to 0.5 (swimmer6) and 1.2
    # (swimmer15), returns by under 1%; at 0.005 s the differences double.
    FAST = physics.Tuning(timestep=0.003, iterations=4, ls_iterations=8, eulerdamp=False)

    def __init__(self, config: EnvConfig | None = None, *, n_links: int):
        self.n_links = n_links
        super().__init__(config)
        self._head = self._body_id("head")
        self._nose = int(self.mj_model.geom("nose").id)
        self._target = int(self.mj_model.geom("target").id)
        self._target_mocap = int(self.mj_model.body_mocapid[self._body_id("target")])
        self._target_radius = float(self.mj_model.geom_size[self._target, 0])

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        build_chain(spec, self.n_links)
        # swimmer.xml disables contacts; MJX would still reject the head's ellipsoid against the segments' boxes.
        disable_collisions(spec)
        target_to_mocap(spec, "target")

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        k_joints, k_close, k_target = jax.random.split(key, 3)
        qpos = random_joint_positions(self.mj_model, data.qpos, k_joints)
        box = jnp.where(jax.random.uniform(k_close) < _P_CLOSE_TARGET, _CLOSE_TARGET_BOX, _FAR_TARGET_BOX)
        xy = jax.random.uniform(k_target, (2,), minval=-box, maxval=box)
        mocap_pos = data.mocap_pos.at[self._target_mocap, :2].set(xy)
        return data.replace(qpos=qpos, mocap_pos=mocap_pos)

    def _nose_to_target(self, data: mjx.Data) -> Array:
        """Nose-to-target vector in the head's frame, x and y only."""
        return ((data.geom_xpos[self._target] - data.geom_xpos[self._nose]) @ data.xmat[self._head])[:2]

    def _get_obs(self, data: mjx.Data) -> Array:
        # joints: qpos without the root; to_target; body_velocities: (vx, vy, wz) of the head and every segment.
        velocities = data.sensordata[_FRAME_SENSOR_DIMS:].reshape(-1, 6)[:, _VX_VY_WZ].ravel()
        return jnp.concatenate([data.qpos[3:], self._nose_to_target(data), velocities])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        distance = jnp.linalg.norm(self._nose_to_target(data))
        reward = rewards.tolerance(
            distance, bounds=(0, self._target_radius), margin=5 * self._target_radius, sigmoid="long_tail"
        )
        return reward, {"distance": distance}

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """The target position of a dm_control swimmer episode (kept in its model) as `reset_to` arguments."""
        return {"mocap_pos": np.array(dm_physics.named.model.geom_pos[["target"]])}


TASKS = {
    "swimmer-swimmer6": TaskSpec(Swimmer, ("swimmer", "swimmer6"), {"n_links": 6}),
    "swimmer-swimmer15": TaskSpec(Swimmer, ("swimmer", "swimmer15"), {"n_links": 15}),
}
