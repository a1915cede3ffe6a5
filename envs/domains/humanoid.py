"""Humanoid domain (dm_control `suite/humanoid.py`): a 21-joint 3D humanoid that stands, walks or runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig, random_joint_positions
from envs.registry import TaskSpec

# Head height (m) at and above which the stand reward is 1.
_STAND_HEIGHT = 1.4
# Horizontal centre-of-mass speeds (m/s) at and above which the move reward is 1.
_WALK_SPEED = 1.0
_RUN_SPEED = 10.0
# End effectors, in the order of dm_control's `extremities` observation.
_EXTREMITIES = ("left_hand", "left_foot", "right_hand", "right_foot")
# Bound on the collision-free rejection sampling at reset. dm_control loops until a sample has no contact; 74% of
# its samples are contact-free (300 measured resets), so 100 tries all fail with probability below 1e-58. If they
# ever did, the episode would start from the last (self-penetrating) sample.
_MAX_INIT_TRIES = 100


class Humanoid(DmcEnv):
    """Humanoid; `move_speed` 0 rewards standing still, otherwise moving at least that fast."""

    XML = "humanoid.xml"
    CONTROL_DT = 0.025
    TIME_LIMIT = 25.0
    # fast: timestep 0.005 s kept (5 sub-steps per control step); 4 solver and 8 line-search iterations
    # (dm_control: 100 / 50); no implicit joint damping; contacts culled to the 8 deepest points of at most 8 geom
    # pairs per collision function; the force, torque, touch and IMU sensors, which no observation or reward reads,
    # are removed (see `_edit_spec`).
    FAST = physics.Tuning(iterations=4, ls_iterations=8, eulerdamp=False, max_contact_points=8, max_geom_pairs=8)

    def __init__(self, config: EnvConfig | None = None, *, move_speed: float):
        self.move_speed = move_speed
        super().__init__(config)
        self._torso = self._body_id("torso")
        self._head = self._body_id("head")
        self._extremities = np.array([self._body_id(b) for b in _EXTREMITIES])
        self._com_velocity = self._sensor_slice("torso_subtreelinvel")

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        if self.config.physics == "fast":
            # Only the centre-of-mass velocity sensor is read; the others cost a force pass every sub-step.
            for sensor in [s for s in spec.sensors if s.name != "torso_subtreelinvel"]:
                spec.delete(sensor)

    def _sample_pose(self, data: mjx.Data, key: Array) -> tuple[Array, Array]:
        """One draw of dm_control's joint randomisation, and whether it has any contact (MuJoCo's ncon > 0)."""
        m = self.mjx_model
        qpos = random_joint_positions(self.mj_model, data.qpos, key)
        contact = mjx.collision(m, mjx.kinematics(m, data.replace(qpos=qpos)))._impl.contact
        margin = jnp.max(m.geom_margin[contact.geom], axis=-1)
        return qpos, jnp.any(contact.dist < margin)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        # dm_control redraws every joint (free joint: orientation only) until the pose touches nothing.
        def draw(carry):
            tries, key, _, _ = carry
            key, k_pose = jax.random.split(key)
            return (tries + 1, key, *self._sample_pose(data, k_pose))

        def retry(carry):
            tries, _, _, penetrating = carry
            return penetrating & (tries < _MAX_INIT_TRIES)

        start = (jnp.zeros((), jnp.int32), key, data.qpos, jnp.ones((), bool))
        _, _, qpos, _ = jax.lax.while_loop(retry, draw, start)
        return data.replace(qpos=qpos)

    def _get_obs(self, data: mjx.Data) -> Array:
        torso_frame = data.xmat[self._torso]
        # Each extremity's offset from the torso, in the torso frame (dm_control's `offset.dot(torso_frame)`).
        extremities = (data.xpos[self._extremities] - data.xpos[self._torso]) @ torso_frame
        return jnp.concatenate(
            [
                data.qpos[7:],
                data.xpos[self._head, 2][None],
                extremities.ravel(),
                torso_frame[2],
                data.sensordata[self._com_velocity],
                data.qvel,
            ]
        )

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        standing = rewards.tolerance(
            data.xpos[self._head, 2], bounds=(_STAND_HEIGHT, float("inf")), margin=_STAND_HEIGHT / 4
        )
        upright = rewards.tolerance(
            data.xmat[self._torso, 2, 2], bounds=(0.9, float("inf")), sigmoid="linear", margin=1.9, value_at_margin=0
        )
        small_control = rewards.tolerance(data.ctrl, margin=1, value_at_margin=0, sigmoid="quadratic").mean()
        small_control = (4 + small_control) / 5
        horizontal_velocity = data.sensordata[self._com_velocity][:2]
        terms = {"standing": standing, "upright": upright, "small_control": small_control}
        if self.move_speed == 0:
            dont_move = rewards.tolerance(horizontal_velocity, margin=2).mean()
            return small_control * standing * upright * dont_move, {**terms, "dont_move": dont_move}
        move = rewards.tolerance(
            jnp.linalg.norm(horizontal_velocity),
            bounds=(self.move_speed, float("inf")),
            margin=self.move_speed,
            value_at_margin=0,
            sigmoid="linear",
        )
        move = (5 * move + 1) / 6
        return small_control * standing * upright * move, {**terms, "move": move}


TASKS = {
    "humanoid-stand": TaskSpec(Humanoid, ("humanoid", "stand"), {"move_speed": 0.0}),
    "humanoid-walk": TaskSpec(Humanoid, ("humanoid", "walk"), {"move_speed": _WALK_SPEED}),
    "humanoid-run": TaskSpec(Humanoid, ("humanoid", "run"), {"move_speed": _RUN_SPEED}),
}
