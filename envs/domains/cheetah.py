"""Cheetah domain (dm_control `suite/cheetah.py`): a planar runner rewarded for forward speed."""

from __future__ import annotations

import jax
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv
from envs.registry import TaskSpec

# Speed (m/s) at and above which the run reward is 1.
_RUN_SPEED = 10.0
# Physics steps the initial pose settles for before the episode starts.
_SETTLE_STEPS = 200


class Cheetah(DmcEnv):
    """Half-cheetah running task."""

    XML = "cheetah.xml"
    TIME_LIMIT = 10.0
    # fast: 4 solver / 8 line-search iterations (dm_control: 100 / 50), no implicit joint damping, and contact
    # culling to the 6 deepest points of at most 4 geom pairs (feet and shins on the ground).
    FAST = physics.Tuning(iterations=4, ls_iterations=8, eulerdamp=False, max_contact_points=6, max_geom_pairs=4)

    def __init__(self, config=None):
        super().__init__(config)
        limited = self.mj_model.jnt_limited.astype(bool)
        assert self.mj_model.nq == self.mj_model.njnt, "cheetah joints are all single-dof"
        self._limited = np.flatnonzero(limited)
        self._low, self._high = self.mj_model.jnt_range[limited].T.astype(np.float32)
        self._speed = self._sensor_slice("torso_subtreelinvel").start

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        # dm_control's reset forward at the default pose, whose kinematics the first settling step reuses.
        data = physics.forward(self.mjx_model, data, actuation=False)
        qpos = data.qpos.at[self._limited].set(
            jax.random.uniform(key, self._low.shape, minval=self._low, maxval=self._high)
        )
        # dm_control steps from the new pose with the reset's stale kinematics, 200 times, then zeroes the clock.
        data = self._settle(data.replace(qpos=qpos), _SETTLE_STEPS)
        return data.replace(time=0.0 * data.time)

    def _get_obs(self, data: mjx.Data) -> Array:
        return jax.numpy.concatenate([data.qpos[1:], data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        speed = data.sensordata[self._speed]
        reward = rewards.tolerance(
            speed, bounds=(_RUN_SPEED, float("inf")), margin=_RUN_SPEED, value_at_margin=0, sigmoid="linear"
        )
        return reward, {"speed": speed}


TASKS = {"cheetah-run": TaskSpec(Cheetah, ("cheetah", "run"))}
