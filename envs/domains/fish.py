"""Fish domain (dm_control `suite/fish.py`): a fish in a fluid turns upright or swims its mouth to a target.

MJX differences, all exact:
- fish.xml disables constraints (and gravity), so MuJoCo never runs collision detection for it: no contact ever
  exists in dm_control. MJX still checks, at `put_model`, that it has a collision function for every geom pair that
  contype/conaffinity allow, and it has none for ellipsoid-box (the tail and fins against `torso_massive`). Every
  geom's contype and conaffinity are cleared, which removes those pairs without changing the physics.
- The fluid forces (density 5000, no viscosity, no per-geom `fluidshape`) are MuJoCo's inertia-box model, which MJX
  implements; one step from dm_control's state agrees to float32 precision (see tests/envs/tolerances/fish.py).
- dm_control moves the swim target per episode by editing the model (`geom_pos`); here the target geom sits on a mocap
  body at the same place and an episode's target is `data.mocap_pos`. Upright hides the target by making it
  transparent, which only matters for rendering.
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
from envs.core import DmcEnv, EnvConfig
from envs.domains.swimmer import disable_collisions, target_to_mocap
from envs.registry import TaskSpec

# The joints whose angles and velocities are observed, in dm_control's order.
_JOINTS = ("tail1", "tail_twist", "tail2", "finright_roll", "finright_pitch", "finleft_roll", "finleft_pitch")
# Initial joint angles are uniform in +-this (rad).
_JOINT_INIT_RANGE = 0.2
# Swim target position ranges (m): uniform in x and y within +-0.4, in z within [0.1, 0.3].
_TARGET_LOW = (-0.4, -0.4, 0.1)
_TARGET_HIGH = (0.4, 0.4, 0.3)


class Fish(DmcEnv):
    """Fish; `swim` rewards bringing the mouth to a random target (and uprightness), otherwise uprightness only."""

    XML = "fish.xml"
    CONTROL_DT = 0.04
    TIME_LIMIT = 40.0
    # fast: fish.xml disables constraints, so solver settings cost nothing and only the sub-steps count: timestep
    # 0.008 s (dm_control 0.004 s: 5 instead of 10 sub-steps). Over 1000 random-action steps the tail's joint
    # velocities differ by up to 0.3 rad/s and returns by under 1%. Implicit joint damping stays on: without it the
    # nearly massless tail and fins blow up within 10 steps, even at dm_control's timestep.
    FAST = physics.Tuning(timestep=0.008)

    def __init__(self, config: EnvConfig | None = None, *, swim: bool):
        self.swim = swim
        super().__init__(config)
        m = self.mj_model
        self._joint_qpos = np.array([self._named_qpos_adr(j) for j in _JOINTS])
        self._root_quat = self._named_qpos_adr("root") + 3
        self._torso = self._body_id("torso")
        self._mouth = int(m.geom("mouth").id)
        self._target = int(m.geom("target").id)
        self._target_mocap = int(m.body_mocapid[self._body_id("target")])
        self._radii = float(m.geom_size[self._mouth, 0] + m.geom_size[self._target, 0])

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        disable_collisions(spec)
        target_to_mocap(spec, "target")

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        k_quat, k_joints, k_target = jax.random.split(key, 3)
        quat = jax.random.normal(k_quat, (4,))
        qpos = data.qpos.at[self._root_quat : self._root_quat + 4].set(quat / jnp.linalg.norm(quat))
        angles = jax.random.uniform(k_joints, (len(_JOINTS),), minval=-_JOINT_INIT_RANGE, maxval=_JOINT_INIT_RANGE)
        qpos = qpos.at[self._joint_qpos].set(angles)
        data = data.replace(qpos=qpos)
        if self.swim:
            target = jax.random.uniform(k_target, (3,), minval=jnp.array(_TARGET_LOW), maxval=jnp.array(_TARGET_HIGH))
            data = data.replace(mocap_pos=data.mocap_pos.at[self._target_mocap].set(target))
        return data

    def _mouth_to_target(self, data: mjx.Data) -> Array:
        """Mouth-to-target vector in the mouth's frame."""
        return (data.geom_xpos[self._target] - data.geom_xpos[self._mouth]) @ data.geom_xmat[self._mouth]

    def _get_obs(self, data: mjx.Data) -> Array:
        # joint_angles, upright (torso zz), [target: mouth to target, swim only], velocity: all of qvel.
        upright = data.xmat[self._torso, 2, 2][None]
        target = [self._mouth_to_target(data)] if self.swim else []
        return jnp.concatenate([data.qpos[self._joint_qpos], upright, *target, data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        upright = data.xmat[self._torso, 2, 2]
        if not self.swim:
            reward = rewards.tolerance(upright, bounds=(1.0, 1.0), margin=1.0)
            return reward, {"upright": upright}
        distance = jnp.linalg.norm(self._mouth_to_target(data))
        in_target = rewards.tolerance(distance, bounds=(0.0, self._radii), margin=2 * self._radii)
        is_upright = 0.5 * (upright + 1)
        return (7 * in_target + is_upright) / 8, {"in_target": in_target, "is_upright": is_upright}

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """The target position of a dm_control fish episode (kept in its model) as `reset_to` arguments."""
        return {"mocap_pos": np.array(dm_physics.named.model.geom_pos[["target"]])}


TASKS = {
    "fish-upright": TaskSpec(Fish, ("fish", "upright"), {"swim": False}),
    "fish-swim": TaskSpec(Fish, ("fish", "swim"), {"swim": True}),
}
