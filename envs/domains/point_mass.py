"""Point-mass domain (dm_control `suite/point_mass.py`): steer a planar point mass to the target at the centre."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, random_joint_positions
from envs.registry import TaskSpec


class PointMass(DmcEnv):
    """Point mass reaching a fixed target, with a small penalty on control (dm_control's `easy` variant)."""

    XML = "point_mass.xml"
    TIME_LIMIT = 20.0
    # fast: 1 solver / 4 line-search iterations (dm_control: 100 / 50). The only constraints are the two slides'
    # joint limits, which the Newton solver resolves in one iteration; contacts are disabled in the model.
    FAST = physics.Tuning(iterations=1, ls_iterations=4)

    def __init__(self, config=None):
        super().__init__(config)
        self._mass = int(self.mj_model.geom("pointmass").id)
        self._target = int(self.mj_model.geom("target").id)
        self._target_size = float(self.mj_model.geom_size[self._target, 0])

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        return data.replace(qpos=random_joint_positions(self.mj_model, data.qpos, key))

    def _get_obs(self, data: mjx.Data) -> Array:
        return jnp.concatenate([data.qpos, data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        distance = jnp.linalg.norm(data.geom_xpos[self._target] - data.geom_xpos[self._mass])
        near_target = rewards.tolerance(distance, bounds=(0.0, self._target_size), margin=self._target_size)
        control = rewards.tolerance(data.ctrl, margin=1, value_at_margin=0, sigmoid="quadratic").mean()
        small_control = (control + 4) / 5
        return near_target * small_control, {"near_target": near_target, "small_control": small_control}


TASKS = {"point-mass-easy": TaskSpec(PointMass, ("point_mass", "easy"))}
