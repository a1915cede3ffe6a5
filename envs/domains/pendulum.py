"""Pendulum domain (dm_control `suite/pendulum.py`): swing up and balance a torque-limited pendulum."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv
from envs.registry import TaskSpec

# The pole counts as upright within this many degrees of vertical (the reward is 1 there, else 0).
_ANGLE_BOUND = 8.0
_COSINE_BOUND = math.cos(math.radians(_ANGLE_BOUND))


class Pendulum(DmcEnv):
    """Pendulum swing-up with a sparse reward for keeping the pole upright."""

    XML = "pendulum.xml"
    TIME_LIMIT = 20.0
    # fast: same as dmc. The model has no constraints (contacts disabled, no joint limits), so there is no solver
    # to tune, and the physics timestep already equals the 0.02 s control timestep.
    FAST = physics.Tuning()

    def __init__(self, config=None):
        super().__init__(config)
        self._hinge = self._named_qpos_adr("hinge")
        self._pole = self._body_id("pole")

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # pendulum.xml enables the energy flag, which MJX refuses; the task never reads energy.
        physics.disable_energy(spec)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        angle = jax.random.uniform(key, (), minval=-jnp.pi, maxval=jnp.pi)
        return data.replace(qpos=data.qpos.at[self._hinge].set(angle))

    def _get_obs(self, data: mjx.Data) -> Array:
        xmat = data.xmat[self._pole]
        # orientation: the pole's (zz, xz); velocity: the hinge's angular velocity (the only dof).
        return jnp.concatenate([jnp.stack([xmat[2, 2], xmat[0, 2]]), data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        upright = rewards.tolerance(data.xmat[self._pole, 2, 2], bounds=(_COSINE_BOUND, 1.0))
        return upright, {"upright": upright}


TASKS = {"pendulum-swingup": TaskSpec(Pendulum, ("pendulum", "swingup"))}
