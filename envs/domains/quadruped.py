"""Quadruped domain (dm_control `suite/quadruped.py`): a four-legged ant that walks or runs forward."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig
from envs.registry import TaskSpec

# Target forward speeds (m/s) of the torso, in its own frame.
_WALK_SPEED = 0.5
_RUN_SPEED = 5.0
# dm_control's episode length (s); the floor is sized so that the target speed cannot leave it.
_TIME_LIMIT = 20.0
# Height increment (m) of dm_control's search for a contact-free starting height.
_HEIGHT_STEP = 0.01
# Arena walls, which dm_control removes for walk and run.
_WALLS = ("wall_px", "wall_py", "wall_nx", "wall_ny")


class Quadruped(DmcEnv):
    """Quadruped rewarded for moving forward (torso frame) at `desired_speed` or faster, while upright."""

    XML = "quadruped.xml"
    CONTROL_DT = 0.02
    TIME_LIMIT = _TIME_LIMIT
    # fast: timestep 0.005 s kept (4 sub-steps per control step); 4 solver and 8 line-search iterations
    # (dm_control: 100 / 50); no implicit joint damping; contacts culled to the 8 deepest points of at most 8 geom
    # pairs per collision function (four toes, and shins or torso when the body falls on the floor).
    FAST = physics.Tuning(iterations=4, ls_iterations=8, eulerdamp=False, max_contact_points=8, max_geom_pairs=8)

    def __init__(self, config: EnvConfig | None = None, *, desired_speed: float):
        self.desired_speed = desired_speed
        super().__init__(config)
        m = self.mj_model
        hinges = np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
        self._hinge_qpos = m.jnt_qposadr[hinges]
        self._hinge_qvel = m.jnt_dofadr[hinges]
        self._torso = self._body_id("torso")
        self._velocimeter = self._sensor_slice("velocimeter")
        # dm_control reads sensors by type, in sensor order: gyro/accelerometer, then force/torque.
        self._imu = self._sensor_entries(mujoco.mjtSensor.mjSENS_GYRO, mujoco.mjtSensor.mjSENS_ACCELEROMETER)
        self._force_torque = self._sensor_entries(mujoco.mjtSensor.mjSENS_FORCE, mujoco.mjtSensor.mjSENS_TORQUE)
        self._floor = int(m.geom("floor").id)
        self._root = self._named_qpos_adr("root")

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # dm_control's `make_model(floor_size=20 * speed)` for walk and run: floor resized; walls, ball, target and
        # terrain removed (so no heightfield collision remains, which MJX could not run); rangefinders removed.
        floor_size = _TIME_LIMIT * self.desired_speed
        spec.geom("floor").size = [floor_size, floor_size, 0.5]
        for wall in _WALLS:
            spec.delete(spec.geom(wall))
        spec.delete(spec.body("ball"))
        spec.delete(spec.site("target"))
        spec.delete(spec.geom("terrain"))
        for sensor in [s for s in spec.sensors if s.type == mujoco.mjtSensor.mjSENS_RANGEFINDER]:
            spec.delete(sensor)

    def _sensor_entries(self, *types: mujoco.mjtSensor) -> np.ndarray:
        """sensordata indices of every sensor of the given types, in sensor order."""
        m = self.mj_model
        ids = np.flatnonzero(np.isin(m.sensor_type, [int(t) for t in types]))
        return np.concatenate([np.arange(m.sensor_adr[i], m.sensor_adr[i] + m.sensor_dim[i]) for i in ids])

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        orientation = jax.random.normal(key, (4,))
        orientation = orientation / jnp.linalg.norm(orientation)
        # dm_control raises the body (default joint pose, this orientation) from z = 0 in 1 cm steps until nothing
        # touches. The default pose has no self-contact and every floor distance grows by exactly the lift, so the
        # first contact-free step follows from the deepest floor penetration at z = 0, with one collision pass.
        qpos = data.qpos.at[self._root : self._root + 3].set(0.0)
        qpos = qpos.at[self._root + 3 : self._root + 7].set(orientation)
        probe = mjx.collision(self.mjx_model, mjx.kinematics(self.mjx_model, data.replace(qpos=qpos)))
        contact = probe._impl.contact
        on_floor = (contact.geom == self._floor).any(-1)
        depth = -jnp.min(jnp.where(on_floor, contact.dist, jnp.inf))
        # A contact exists while its distance is <= 0: the first free step is the first with lift > depth.
        steps = jnp.maximum(jnp.floor(depth / _HEIGHT_STEP) + 1, 0)
        return data.replace(qpos=qpos.at[self._root + 2].set(steps * _HEIGHT_STEP))

    def _get_obs(self, data: mjx.Data) -> Array:
        torso_upright = data.xmat[self._torso, 2, 2]
        return jnp.concatenate(
            [
                data.qpos[self._hinge_qpos],
                data.qvel[self._hinge_qvel],
                data.act,
                data.sensordata[self._velocimeter],
                torso_upright[None],
                data.sensordata[self._imu],
                jnp.arcsinh(data.sensordata[self._force_torque]),
            ]
        )

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        upright = rewards.tolerance(
            data.xmat[self._torso, 2, 2], bounds=(1.0, float("inf")), sigmoid="linear", margin=2.0, value_at_margin=0
        )
        move = rewards.tolerance(
            data.sensordata[self._velocimeter][0],
            bounds=(self.desired_speed, float("inf")),
            margin=self.desired_speed,
            value_at_margin=0.5,
            sigmoid="linear",
        )
        return upright * move, {"upright": upright, "move": move}


TASKS = {
    "quadruped-walk": TaskSpec(Quadruped, ("quadruped", "walk"), {"desired_speed": _WALK_SPEED}),
    "quadruped-run": TaskSpec(Quadruped, ("quadruped", "run"), {"desired_speed": _RUN_SPEED}),
}
