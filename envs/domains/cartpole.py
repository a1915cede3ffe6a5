"""Cartpole domain (dm_control `suite/cartpole.py`): swing up or balance a pole on a cart."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig
from envs.registry import TaskSpec

# Cart position and pole-angle cosine ranges that count as balanced in the sparse reward.
_CART_RANGE = (-0.25, 0.25)
_ANGLE_COSINE_RANGE = (0.995, 1.0)


class Cartpole(DmcEnv):
    """Cart-pole with one pole; `swing_up` starts it hanging down, `sparse` gives the 0/1 balanced reward."""

    XML = "cartpole.xml"
    TIME_LIMIT = 10.0
    # fast: one solver iteration and four line-search steps; the only constraint is the slider's joint limit.
    FAST = physics.Tuning(iterations=1, ls_iterations=4)

    def __init__(self, config: EnvConfig | None = None, *, swing_up: bool, sparse: bool):
        self.swing_up = swing_up
        self.sparse = sparse
        super().__init__(config)
        self._slider = self._named_qpos_adr("slider")
        self._hinge = self._named_qpos_adr("hinge_1")
        self._pole_bodies = slice(2, self.mj_model.nbody)

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # cartpole.xml enables the energy flag, which MJX refuses; the task never reads energy.
        physics.disable_energy(spec)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        nv = self.mj_model.nv
        k_slider, k_hinge, k_rest, k_vel = jax.random.split(key, 4)
        qpos = data.qpos
        if self.swing_up:
            qpos = qpos.at[self._slider].set(0.01 * jax.random.normal(k_slider))
            qpos = qpos.at[self._hinge].set(jnp.pi + 0.01 * jax.random.normal(k_hinge))
            qpos = qpos.at[2:].set(0.1 * jax.random.normal(k_rest, (nv - 2,)))
        else:
            qpos = qpos.at[self._slider].set(jax.random.uniform(k_slider, minval=-0.1, maxval=0.1))
            qpos = qpos.at[1:].set(jax.random.uniform(k_rest, (nv - 1,), minval=-0.034, maxval=0.034))
        qvel = 0.01 * jax.random.normal(k_vel, (nv,))
        return data.replace(qpos=qpos, qvel=qvel)

    def _get_obs(self, data: mjx.Data) -> Array:
        xmat = data.xmat[self._pole_bodies]
        # position: cart x, then (zz, xz) of each pole's orientation; velocity: all of qvel.
        bounded = jnp.concatenate(
            [data.qpos[self._slider][None], jnp.stack([xmat[:, 2, 2], xmat[:, 0, 2]], -1).ravel()]
        )
        return jnp.concatenate([bounded, data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        cart_position = data.qpos[self._slider]
        pole_angle_cosine = data.xmat[self._pole_bodies, 2, 2]
        if self.sparse:
            cart_in_bounds = rewards.tolerance(cart_position, _CART_RANGE)
            angle_in_bounds = rewards.tolerance(pole_angle_cosine, _ANGLE_COSINE_RANGE).prod()
            reward = cart_in_bounds * angle_in_bounds
            return reward, {"cart_in_bounds": cart_in_bounds, "angle_in_bounds": angle_in_bounds}
        upright = (pole_angle_cosine + 1) / 2
        centered = (1 + rewards.tolerance(cart_position, margin=2)) / 2
        small_control = rewards.tolerance(data.ctrl, margin=1, value_at_margin=0, sigmoid="quadratic")[0]
        small_control = (4 + small_control) / 5
        small_velocity = (1 + rewards.tolerance(data.qvel[1:], margin=5).min()) / 2
        reward = upright.mean() * small_control * small_velocity * centered
        return reward, {
            "upright": upright.mean(),
            "centered": centered,
            "small_control": small_control,
            "small_velocity": small_velocity,
        }


TASKS = {
    "cartpole-balance": TaskSpec(Cartpole, ("cartpole", "balance"), {"swing_up": False, "sparse": False}),
    "cartpole-balance-sparse": TaskSpec(Cartpole, ("cartpole", "balance_sparse"), {"swing_up": False, "sparse": True}),
    "cartpole-swingup": TaskSpec(Cartpole, ("cartpole", "swingup"), {"swing_up": True, "sparse": False}),
    "cartpole-swingup-sparse": TaskSpec(Cartpole, ("cartpole", "swingup_sparse"), {"swing_up": True, "sparse": True}),
}
