"""Acrobot domain (dm_control `suite/acrobot.py`): swing up and balance a two-link pendulum driven at the elbow."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig
from envs.registry import TaskSpec

# Margin (m) of the dense reward's Gaussian fall-off outside the target sphere; the sparse reward has none.
_DENSE_MARGIN = 1.0


class Acrobot(DmcEnv):
    """Acrobot swing-up; `sparse` rewards only the tip inside the target sphere, otherwise a Gaussian fall-off."""

    XML = "acrobot.xml"
    TIME_LIMIT = 10.0
    # fast: same as dmc. The model has constraints disabled (no solver to tune, no contacts to cull) and RK4
    # integration at the 0.01 s control timestep, which a larger timestep cannot divide.
    FAST = physics.Tuning()

    def __init__(self, config: EnvConfig | None = None, *, sparse: bool):
        self.sparse = sparse
        super().__init__(config)
        self._arms = np.array([self._body_id("upper_arm"), self._body_id("lower_arm")])
        self._joints = np.array([self._named_qpos_adr("shoulder"), self._named_qpos_adr("elbow")])
        self._tip = int(self.mj_model.site("tip").id)
        self._target = int(self.mj_model.site("target").id)
        self._target_radius = float(self.mj_model.site_size[self._target, 0])

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # acrobot.xml enables the energy flag, which MJX refuses; the task never reads energy.
        physics.disable_energy(spec)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        angles = jax.random.uniform(key, (2,), minval=-jnp.pi, maxval=jnp.pi)
        return data.replace(qpos=data.qpos.at[self._joints].set(angles))

    def _get_obs(self, data: mjx.Data) -> Array:
        xmat = data.xmat[self._arms]
        # orientations: the arms' (xz, xz, zz, zz) (horizontal then vertical parts of their z-axes); velocity: qvel.
        return jnp.concatenate([xmat[:, 0, 2], xmat[:, 2, 2], data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        distance = jnp.linalg.norm(data.site_xpos[self._target] - data.site_xpos[self._tip])
        margin = 0.0 if self.sparse else _DENSE_MARGIN
        reward = rewards.tolerance(distance, bounds=(0.0, self._target_radius), margin=margin)
        return reward, {"distance": distance}


TASKS = {
    "acrobot-swingup": TaskSpec(Acrobot, ("acrobot", "swingup"), {"sparse": False}),
    "acrobot-swingup-sparse": TaskSpec(Acrobot, ("acrobot", "swingup_sparse"), {"sparse": True}),
}
