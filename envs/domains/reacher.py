"""Reacher domain (dm_control `suite/reacher.py`): a two-link planar arm reaches a randomly placed target.

dm_control places the target per episode by writing the target geom's position into the model. An MJX model is
shared by every episode of a batch, so here the target geom sits on a mocap body and each episode's position is
`data.mocap_pos`. The mocap body has no degrees of freedom and contacts are disabled in reacher.xml, so the dynamics
are unchanged; the target's world position (`geom_xpos`) is exactly dm_control's.
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

# Target radii (m) of the easy and hard tasks.
_BIG_TARGET = 0.05
_SMALL_TARGET = 0.015
# The target is placed uniformly in angle at a distance uniform in this range (m) from the arm's base.
_TARGET_RADIUS_RANGE = (0.05, 0.20)


class Reacher(DmcEnv):
    """Reacher with a target of radius `target_size`; the reward is 1 while the finger touches the target."""

    XML = "reacher.xml"
    TIME_LIMIT = 20.0
    # fast: 1 solver / 4 line-search iterations (dm_control: 100 / 50). The only constraint is the wrist's joint
    # limit, which the Newton solver resolves in one iteration; contacts are disabled in the model.
    FAST = physics.Tuning(iterations=1, ls_iterations=4)

    def __init__(self, config: EnvConfig | None = None, *, target_size: float):
        self.target_size = target_size
        super().__init__(config)
        self._finger = int(self.mj_model.geom("finger").id)
        self._target = int(self.mj_model.geom("target").id)
        self._radii = float(self.mj_model.geom_size[self._target, 0] + self.mj_model.geom_size[self._finger, 0])

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        target = spec.geom("target")
        target.size[0] = self.target_size
        # Move the target geom onto a mocap body at the same place, so that its position can vary per episode.
        properties = {
            name: getattr(target, name)
            for name in ("type", "size", "material", "rgba", "group", "contype", "conaffinity", "density")
        }
        position = np.array(target.pos)
        spec.delete(target)
        spec.worldbody.add_body(name="target", mocap=True, pos=position).add_geom(name="target", **properties)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        k_joints, k_angle, k_radius = jax.random.split(key, 3)
        qpos = random_joint_positions(self.mj_model, data.qpos, k_joints)
        angle = jax.random.uniform(k_angle, (), minval=0.0, maxval=2 * jnp.pi)
        radius = jax.random.uniform(k_radius, (), minval=_TARGET_RADIUS_RANGE[0], maxval=_TARGET_RADIUS_RANGE[1])
        mocap_pos = data.mocap_pos.at[0, :2].set(radius * jnp.stack([jnp.sin(angle), jnp.cos(angle)]))
        return data.replace(qpos=qpos, mocap_pos=mocap_pos)

    def _get_obs(self, data: mjx.Data) -> Array:
        to_target = data.geom_xpos[self._target, :2] - data.geom_xpos[self._finger, :2]
        return jnp.concatenate([data.qpos, to_target, data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        distance = jnp.linalg.norm(data.geom_xpos[self._target, :2] - data.geom_xpos[self._finger, :2])
        reward = rewards.tolerance(distance, bounds=(0.0, self._radii))
        return reward, {"distance": distance}

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """The target position of a dm_control reacher episode (kept in its model) as `reset_to` arguments."""
        return {"mocap_pos": np.array(dm_physics.named.model.geom_pos[["target"]])}


TASKS = {
    "reacher-easy": TaskSpec(Reacher, ("reacher", "easy"), {"target_size": _BIG_TARGET}),
    "reacher-hard": TaskSpec(Reacher, ("reacher", "hard"), {"target_size": _SMALL_TARGET}),
}
