"""Hopper domain (dm_control `suite/hopper.py`): a planar one-legged hopper that stands or hops forward."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig, random_joint_positions
from envs.registry import TaskSpec

# Height (m) of the torso's centre of mass over the foot's, between which the stand term is 1.
_STAND_HEIGHT = (0.6, 2.0)
# Forward speed (m/s) at and above which the hop term is 1.
_HOP_SPEED = 2.0


class Hopper(DmcEnv):
    """Planar hopper; `hopping` rewards forward speed, otherwise standing with small controls."""

    XML = "hopper.xml"
    CONTROL_DT = 0.02
    TIME_LIMIT = 20.0
    # fast: 4 solver / 8 line-search iterations (dm_control: 100 / 50) and no implicit joint damping (damping 0.05 on
    # armature 0.2 is stable explicitly); the timestep stays dm_control's 0.005 s (4 sub-steps per control step). No
    # contact culling: keeping the 6 deepest of 21 contact points (6 capsules on the floor, 2 points each, and 9
    # capsule-capsule pairs, culled to 2) gained ~9% on CPU but drops real contacts of a folded or fallen hopper
    # (10-step observation error 0.5 instead of 7e-3 on one of two seeds).
    FAST = physics.Tuning(iterations=4, ls_iterations=8, eulerdamp=False)

    def __init__(self, config: EnvConfig | None = None, *, hopping: bool):
        self.hopping = hopping
        super().__init__(config)
        self._torso = self._body_id("torso")
        self._foot = self._body_id("foot")
        self._speed = self._sensor_slice("torso_subtreelinvel").start
        self._touch = [self._sensor_slice(name).start for name in ("touch_toe", "touch_heel")]

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        return data.replace(qpos=random_joint_positions(self.mj_model, data.qpos, key))

    def _get_obs(self, data: mjx.Data) -> Array:
        # position: qpos without the horizontal root; velocity: qvel; touch: log(1 + toe and heel contact force).
        touch = jnp.log1p(data.sensordata[jnp.array(self._touch)])
        return jnp.concatenate([data.qpos[1:], data.qvel, touch])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        height = data.xipos[self._torso, 2] - data.xipos[self._foot, 2]
        standing = rewards.tolerance(height, _STAND_HEIGHT)
        if self.hopping:
            hopping = rewards.tolerance(
                data.sensordata[self._speed],
                bounds=(_HOP_SPEED, float("inf")),
                margin=_HOP_SPEED / 2,
                value_at_margin=0.5,
                sigmoid="linear",
            )
            return standing * hopping, {"standing": standing, "hopping": hopping}
        small_control = rewards.tolerance(data.ctrl, margin=1, value_at_margin=0, sigmoid="quadratic").mean()
        small_control = (small_control + 4) / 5
        return standing * small_control, {"standing": standing, "small_control": small_control}


TASKS = {
    "hopper-stand": TaskSpec(Hopper, ("hopper", "stand"), {"hopping": False}),
    "hopper-hop": TaskSpec(Hopper, ("hopper", "hop"), {"hopping": True}),
}
