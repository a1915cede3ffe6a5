"""Finger domain (dm_control `suite/finger.py`): a planar two-link finger spins or turns a hinged body.

dm_control places the turn tasks' target per episode by writing the target site's position into the model. An MJX
model is shared by every episode of a batch, so here the target site sits on a mocap body and each episode's
position is `data.mocap_pos`. The mocap body has no degrees of freedom and no geoms, so the dynamics are unchanged;
the target's world position (and its `framepos` sensor) is exactly dm_control's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics
from envs.core import DmcEnv, EnvConfig, random_joint_positions, redraw_while_touching
from envs.registry import TaskSpec

# Target radii (m) of the easy and hard turn tasks.
_EASY_TARGET_SIZE = 0.07
_HARD_TARGET_SIZE = 0.03
# Spinning faster than this (rad/s, in the negative direction) earns the spin reward.
_SPIN_VELOCITY = 15.0
# Hinge damping (N m s/rad) that dm_control's spin task sets (finger.xml has 0.5).
_SPIN_HINGE_DAMPING = 0.03
# Geoms that can never touch another geom (switched off in the fast profile; see `Finger._edit_spec`).
_NEVER_TOUCHING = ("ground", "proximal_decoration", "proximal", "spinner_decoration")
# Random joint configurations tried for a collision-free start (dm_control gives up with an error after these).
_MAX_ATTEMPTS = 1000


class Finger(DmcEnv):
    """Finger and spinner; `target_size` None is the spin task, otherwise the turn task with that target radius."""

    XML = "finger.xml"
    CONTROL_DT = 0.02
    TIME_LIMIT = 20.0
    # fast: 4 solver / 8 line-search iterations (dm_control: 200 / 50), and only the fingertip and the spinner's two
    # capsules collide (see `_edit_spec`). Over 1000-step random-action episodes this tracks dm_control as closely
    # as `dmc` does; 2 iterations did not (the spinner's contact forces differ and the episodes part within 100
    # steps). Implicit joint damping stays: without it the finger joints' damping (2.5) is unstable at the 0.01 s
    # timestep, which stays too (the contacts' time constant is 0.02 s).
    FAST = physics.Tuning(iterations=4, ls_iterations=8)

    def __init__(self, config: EnvConfig | None = None, *, target_size: float | None):
        self.target_size = target_size
        super().__init__(config)
        # The spinner's hinge anchor (fixed in the world) as dm_control reads it after the reset's forward pass.
        default = mujoco.MjData(self.mj_model)
        mujoco.mj_kinematics(self.mj_model, default)
        self._hinge_anchor = default.xanchor[self.mj_model.joint("hinge").id, [0, 2]].astype(np.float32)
        self._spin_radius = float(self.mj_model.geom_size[self.mj_model.geom("cap1").id].sum())
        self._target_radius = float(self.mj_model.site_size[self.mj_model.site("target").id, 0])
        sensors = {
            name: self._sensor_slice(name)
            for name in ("proximal", "distal", "tip", "target", "spinner", "touchtop", "touchbottom")
        }
        self._joint_angles = np.r_[sensors["proximal"], sensors["distal"]]
        self._velocities = np.r_[tuple(self._sensor_slice(f"{j}_velocity") for j in ("proximal", "distal", "hinge"))]
        self._touch = np.r_[sensors["touchtop"], sensors["touchbottom"]]
        # (x, z) entries of the tip, target and spinner frame positions.
        self._tip, self._target, self._spinner = (
            sensors[n].start + np.array([0, 2]) for n in ("tip", "target", "spinner")
        )

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        if self.target_size is None:
            spec.joint("hinge").damping[0] = _SPIN_HINGE_DAMPING
        target = spec.site("target")
        if self.target_size is not None:
            target.size[0] = self.target_size
        # Move the target site onto a mocap body at the same place, so that its position can vary per episode.
        properties = {name: getattr(target, name) for name in ("type", "size", "material", "rgba", "group")}
        position = np.array(target.pos)
        spec.delete(target)
        spec.worldbody.add_body(name="target", mocap=True, pos=position).add_site(name="target", **properties)
        if self.config.physics == "fast":
            # Of finger.xml's 15 collision pairs (30 MJX contacts), only the fingertip and the spinner's capsules can
            # meet: over all joint angles, the ground stays >= 2.9 cm from every geom, the proximal link >= 6.8 cm
            # from the spinner, and the spinner's decoration >= 2 cm from the fingertip unless the fingertip sinks
            # 2 cm into the capsules. Switching the others off leaves the dynamics unchanged and 2 contacts to solve.
            for name in _NEVER_TOUCHING:
                spec.geom(name).contype = spec.geom(name).conaffinity = 0

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        k_target, k_joints = jax.random.split(key)
        if self.target_size is not None:
            # The target lies on the circle swept by the spinner's tip, at a uniformly random angle.
            angle = jax.random.uniform(k_target, (), minval=-jnp.pi, maxval=jnp.pi)
            hinge_x, hinge_z = self._hinge_anchor
            target = jnp.stack(
                [hinge_x + self._spin_radius * jnp.sin(angle), hinge_z + self._spin_radius * jnp.cos(angle)]
            )
            data = data.replace(mocap_pos=data.mocap_pos.at[0, jnp.array([0, 2])].set(target))
        return data.replace(qpos=self._collision_free_joint_positions(data, k_joints))

    def _collision_free_joint_positions(self, data: mjx.Data, key: Array) -> Array:
        """Random joint positions (dm_control's distribution) drawn again while any geoms touch.

        After `_MAX_ATTEMPTS` draws without a collision-free one (dm_control raises there; it has not been seen to
        happen: about 9% of the draws collide), the last draw is kept.
        """

        def draw(attempt: Array) -> mjx.Data:
            qpos = random_joint_positions(self.mj_model, data.qpos, jax.random.fold_in(key, attempt))
            return data.replace(qpos=qpos)

        return redraw_while_touching(self.mjx_model, data, draw, _MAX_ATTEMPTS).qpos

    def _positions(self, data: mjx.Data) -> tuple[Array, Array, Array]:
        """The tip's and the target's (x, z) relative to the spinner's hinge, and the tip's signed distance to the
        target's surface (negative inside)."""
        s = data.sensordata
        tip = s[self._tip] - s[self._spinner]
        target = s[self._target] - s[self._spinner]
        return tip, target, jnp.linalg.norm(target - tip) - self._target_radius

    def _get_obs(self, data: mjx.Data) -> Array:
        s = data.sensordata
        tip, target, distance = self._positions(data)
        # position, velocity, touch (log-scaled touch sensors); turn tasks add target_position and dist_to_target.
        parts = [s[self._joint_angles], tip, s[self._velocities], jnp.log1p(s[self._touch])]
        if self.target_size is not None:
            parts += [target, distance[None]]
        return jnp.concatenate(parts)

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        if self.target_size is None:
            spinning = (data.sensordata[self._velocities[2]] <= -_SPIN_VELOCITY).astype(jnp.float32)
            return spinning, {"spinning": spinning}
        in_target = (self._positions(data)[2] <= 0).astype(jnp.float32)
        return in_target, {"in_target": in_target}

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """The target position of a dm_control finger episode (kept in its model) as `reset_to` arguments."""
        return {"mocap_pos": np.array(dm_physics.named.model.site_pos[["target"]])}


TASKS = {
    "finger-spin": TaskSpec(Finger, ("finger", "spin"), {"target_size": None}),
    "finger-turn-easy": TaskSpec(Finger, ("finger", "turn_easy"), {"target_size": _EASY_TARGET_SIZE}),
    "finger-turn-hard": TaskSpec(Finger, ("finger", "turn_hard"), {"target_size": _HARD_TARGET_SIZE}),
}
