"""Manipulator domain (dm_control `suite/manipulator.py`): a planar arm with a two-finger hand brings a ball to a goal.

Model: dm_control keeps only the task's props by deleting the others from manipulator.xml with lxml (`make_model`);
`_edit_spec` deletes the same bodies (for bring_ball: peg, target_peg, cup and slot). dm_control then moves the
target per episode by editing the model (`body_pos`, `body_quat`); MJX models are shared by every episode, so the
target body becomes a mocap body and an episode's target pose lives in `data.mocap_pos`/`mocap_quat`. The target
has no degrees of freedom and its geom never collides (the `ghost` class), so this changes nothing else.

Initial state: dm_control redraws the arm, the target and the ball until MuJoCo finds no contact (a rejection loop).
Here that loop is a `lax.while_loop` of at most `_MAX_INIT_ATTEMPTS` draws, each checked with MJX's collision
detection (any contact at zero or negative distance, as MuJoCo's `ncon > 0` with these zero margins). A draw is
accepted with probability 0.39 in dm_control and 0.38 here (1000 resets each: 2.58 and 2.65 draws on average), so
the bound is never reached in practice (0.62**100 ~ 2e-21); if it were, the episode would start from the last,
penetrating draw.

Known MJX difference (not fixable by model edits): MJX's sphere-capsule contact projects the sphere's centre onto the
capsule's segment with `t = (p - a).(b - a) / (|b - a|^2 + 1e-6)`. On the hand's short capsules (|b - a|^2 ~ 1e-3 m^2)
that shifts the closest point by up to ~1.5e-5 m and turns the contact normal by up to ~1e-3 rad, where MuJoCo is
exact. The ball's rotational inertia is tiny, so one contact step differs by ~2e-2 rad/s in its spin, and the chaotic
hand-ball contact grows that over an episode (see tests/envs/tolerances/manipulator.py: with the exact projection the
one-step error is 1.2e-4 and 25 free-running steps stay within 2e-3).
"""

from __future__ import annotations

import copy
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig
from envs.registry import TaskSpec

# Distance (m) below which the ball counts as at the target.
_CLOSE = 0.01
# Probabilities that the ball starts in the hand, at the target, or uniformly placed.
_P_IN_HAND = 0.1
_P_IN_TARGET = 0.1
# The arm's joints, observed in this order.
_ARM_JOINTS = ("arm_root", "arm_shoulder", "arm_elbow", "arm_wrist", "finger", "fingertip", "thumb", "thumbtip")
# Every prop body in manipulator.xml; a task keeps its own and deletes the rest.
_ALL_PROPS = ("ball", "target_ball", "cup", "peg", "target_peg", "slot")
_TOUCH_SENSORS = ("palm_touch", "finger_touch", "thumb_touch", "fingertip_touch", "thumbtip_touch")
# Target position bounds (x, z) in m; its angle is uniform in [-pi, pi).
_TARGET_LOW = (-0.4, 0.1)
_TARGET_HIGH = (0.4, 0.4)
# Uniformly placed ball: bounds of (x, z, angle) in m and rad, and of its initial x velocity in m/s (+-).
_OBJECT_LOW = (-0.5, 0.0, 0.0)
_OBJECT_HIGH = (0.5, 0.7, 2 * np.pi)
_OBJECT_VX = 5.0
# Entries of a position (x, z) and of a quaternion (w, y) that a planar pose uses.
_PLANAR = np.array([0, 2])
# Draws of the collision-free rejection loop before giving up.
_MAX_INIT_ATTEMPTS = 100


class Manipulator(DmcEnv):
    """Planar manipulator bringing the ball prop to a target (dm_control's `Bring` with the ball, fully observed)."""

    XML = "manipulator.xml"
    CONTROL_DT = 0.01
    TIME_LIMIT = 10.0
    # fast: 8 solver / 8 line-search iterations (dm_control: 100 / 50; over 200 random-action steps the divergence
    # from dm_control is the dmc profile's to 3 digits) and contact culling to the 16 deepest points of at most 8 geom
    # pairs per collision type (MJX otherwise solves all 173 candidate contacts every sub-step; dm_control never
    # had more than 5 at once in 5000 random-action steps): 16x the CPU throughput. Culling reorders the contacts,
    # and the chaotic ball-in-hand contact amplifies the rounding: on one of two seeds the ball's spin differs by
    # 10 rad/s after 100 steps instead of 0.5 (the other seed is unchanged). The rejection loop still checks every
    # pair. Kept as dm_control: the 0.001 s timestep (at 0.002 s the ball's contacts differ within 10 steps)
    # and implicit joint damping (the fingertip joints' damping is explicitly unstable at this timestep).
    FAST = physics.Tuning(iterations=8, ls_iterations=8, max_contact_points=16, max_geom_pairs=8)

    def __init__(self, config: EnvConfig | None = None):
        self._object, self._target = "ball", "target_ball"
        super().__init__(config)
        m = self.mj_model
        self._arm_qpos = np.array([self._named_qpos_adr(j) for j in _ARM_JOINTS])
        self._arm_qvel = np.array([int(m.jnt_dofadr[m.joint(j).id]) for j in _ARM_JOINTS])
        object_joints = [f"{self._object}_{axis}" for axis in "xzy"]
        self._object_qpos = np.array([self._named_qpos_adr(j) for j in object_joints])
        self._object_qvel = np.array([int(m.jnt_dofadr[m.joint(j).id]) for j in object_joints])
        self._finger, self._thumb = self._named_qpos_adr("finger"), self._named_qpos_adr("thumb")
        limited = m.jnt_limited[[m.joint(j).id for j in _ARM_JOINTS]].astype(bool)
        ranges = m.jnt_range[[m.joint(j).id for j in _ARM_JOINTS]]
        self._arm_low = np.where(limited, ranges[:, 0], -np.pi).astype(np.float32)
        self._arm_high = np.where(limited, ranges[:, 1], np.pi).astype(np.float32)
        self._touch = np.array([self._sensor_slice(s).start for s in _TOUCH_SENSORS])
        self._poses = np.array([self._body_id(b) for b in ("hand", self._object, self._target)])
        self._target_mocap = int(m.body_mocapid[self._body_id(self._target)])
        self._grasp = int(m.site("grasp").id)
        self._object_site, self._target_site = int(m.site(self._object).id), int(m.site(self._target).id)
        self._collision_model = self._without_culling()

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        for prop in _ALL_PROPS:
            if prop not in (self._object, self._target):
                spec.delete(spec.body(prop))
        spec.body(self._target).mocap = True

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        def attempt(carry: tuple[Array, Array, mjx.Data, Array]) -> tuple[Array, Array, mjx.Data, Array]:
            i, key, data, _ = carry
            key, k_draw = jax.random.split(key)
            data = self._draw(data, k_draw)
            return i + 1, key, data, self._penetrating(data)

        def again(carry: tuple[Array, Array, mjx.Data, Array]) -> Array:
            i, _, _, penetrating = carry
            return penetrating & (i < _MAX_INIT_ATTEMPTS)

        carry = (jnp.zeros((), jnp.int32), key, data, jnp.ones((), bool))
        _, _, data, _ = jax.lax.while_loop(again, attempt, carry)
        return data

    def _draw(self, data: mjx.Data, key: Array) -> mjx.Data:
        """One draw of dm_control's rejection loop: arm angles, target pose, ball pose (and maybe x velocity)."""
        k_arm, k_target, k_angle, k_type, k_object, k_vx = jax.random.split(key, 6)
        angles = jax.random.uniform(k_arm, self._arm_low.shape, minval=self._arm_low, maxval=self._arm_high)
        qpos = data.qpos.at[self._arm_qpos].set(angles)
        qpos = qpos.at[self._finger].set(qpos[self._thumb])
        target = jax.random.uniform(k_target, (2,), minval=jnp.array(_TARGET_LOW), maxval=jnp.array(_TARGET_HIGH))
        target_angle = jax.random.uniform(k_angle, (), minval=-jnp.pi, maxval=jnp.pi)
        # A rotation about y in the x-z plane: position (x, z) and quaternion (w, y) are entries 0 and 2.
        mocap_pos = data.mocap_pos.at[self._target_mocap, _PLANAR].set(target)
        half = target_angle / 2
        mocap_quat = data.mocap_quat.at[self._target_mocap, _PLANAR].set(jnp.stack([jnp.cos(half), jnp.sin(half)]))
        data = data.replace(qpos=qpos, mocap_pos=mocap_pos, mocap_quat=mocap_quat)

        # The ball starts in the hand (at the grasp site, aligned with it), at the target, or uniformly placed.
        kind = jax.random.choice(k_type, 3, p=jnp.array([_P_IN_HAND, _P_IN_TARGET, 1 - _P_IN_HAND - _P_IN_TARGET]))
        kinematics = mjx.kinematics(self.mjx_model, data)
        grasp_pos, grasp_xmat = kinematics.site_xpos[self._grasp], kinematics.site_xmat[self._grasp]
        grasp_angle = jnp.pi - jnp.arctan2(grasp_xmat[2, 0], grasp_xmat[0, 0])
        in_hand = jnp.stack([grasp_pos[0], grasp_pos[2], grasp_angle])
        in_target = jnp.stack([target[0], target[1], target_angle])
        uniform = jax.random.uniform(k_object, (3,), minval=jnp.array(_OBJECT_LOW), maxval=jnp.array(_OBJECT_HIGH))
        ball = jnp.select([kind == 0, kind == 1], [in_hand, in_target], uniform)
        # Only a uniform draw sets the ball's x velocity; it persists into later draws, as in dm_control.
        vx = jax.random.uniform(k_vx, (), minval=-_OBJECT_VX, maxval=_OBJECT_VX)
        vx_adr = self._object_qvel[0]
        qvel = data.qvel.at[vx_adr].set(jnp.where(kind == 2, vx, data.qvel[vx_adr]))
        return data.replace(qpos=data.qpos.at[self._object_qpos].set(ball), qvel=qvel)

    def _without_culling(self) -> mjx.Model:
        """The model for the rejection loop's contact check: every candidate pair, even under contact culling."""
        culling = [name for name in ("max_contact_points", "max_geom_pairs") if name in _numeric_names(self.mj_model)]
        if not culling:
            return self.mjx_model
        mj_model = copy.copy(self.mj_model)
        for name in culling:
            mj_model.numeric(name).data[:] = -1
        return physics.put_model(mj_model, self.config.impl)

    def _penetrating(self, data: mjx.Data) -> Array:
        """Whether the state has any contact (MuJoCo's `ncon > 0` after a forward pass)."""
        m = self._collision_model
        data = mjx.collision(m, mjx.kinematics(m, data))
        return jnp.any(data._impl.contact.dist <= 0)

    def _get_obs(self, data: mjx.Data) -> Array:
        # arm_pos: (sin, cos) per arm joint; arm_vel; touch: log(1 + force); hand_pos, object_pos: (x, z, qw, qy);
        # object_vel: ball (x, z, y) joint velocities; target_pos: (x, z, qw, qy).
        arm = data.qpos[self._arm_qpos]
        poses = jnp.concatenate([data.xpos[self._poses][:, _PLANAR], data.xquat[self._poses][:, _PLANAR]], axis=1)
        return jnp.concatenate(
            [
                jnp.stack([jnp.sin(arm), jnp.cos(arm)], axis=1).ravel(),
                data.qvel[self._arm_qvel],
                jnp.log1p(data.sensordata[self._touch]),
                poses[0],
                poses[1],
                data.qvel[self._object_qvel],
                poses[2],
            ]
        )

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        distance = jnp.linalg.norm(data.site_xpos[self._object_site] - data.site_xpos[self._target_site])
        reward = rewards.tolerance(distance, (0.0, _CLOSE), _CLOSE * 2)
        return reward, {"distance": distance}

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """The target pose of a dm_control manipulator episode (kept in its model) as `reset_to` arguments."""
        model = dm_physics.named.model
        return {
            "mocap_pos": np.array(model.body_pos[[self._target]]),
            "mocap_quat": np.array(model.body_quat[[self._target]]),
        }


def _numeric_names(mj_model: mujoco.MjModel) -> set[str]:
    """Names of the model's numeric fields."""
    return {mj_model.numeric(i).name for i in range(mj_model.nnumeric)}


TASKS = {"manipulator-bring-ball": TaskSpec(Manipulator, ("manipulator", "bring_ball"))}
