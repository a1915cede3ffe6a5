"""Walker domain (dm_control `suite/walker.py`): a planar biped that stands, walks or runs."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from mujoco import mjx

from envs import physics, rewards
from envs.core import DmcEnv, EnvConfig, random_joint_positions
from envs.registry import TaskSpec

# Torso height (m) at and above which the walker counts as standing.
_STAND_HEIGHT = 1.2
# Target horizontal speeds (m/s).
_WALK_SPEED = 1.0
_RUN_SPEED = 8.0


class PlanarWalker(DmcEnv):
    """Planar walker; `move_speed` 0 rewards standing, otherwise moving at least that fast."""

    XML = "walker.xml"
    CONTROL_DT = 0.025
    TIME_LIMIT = 25.0
    # fast: timestep 0.005 s (dm_control 0.0025 s, so 5 instead of 10 sub-steps per control step), 2 solver and
    # 5 line-search iterations, no implicit joint damping, contacts culled to 4 points of at most 4 geom pairs.
    FAST = physics.Tuning(
        timestep=0.005, iterations=2, ls_iterations=5, eulerdamp=False, max_contact_points=4, max_geom_pairs=4
    )

    def __init__(self, config: EnvConfig | None = None, *, move_speed: float):
        self.move_speed = move_speed
        super().__init__(config)
        self._torso = self._body_id("torso")
        self._com_velocity = self._sensor_slice("torso_subtreelinvel").start

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        return data.replace(qpos=random_joint_positions(self.mj_model, data.qpos, key))

    def _get_obs(self, data: mjx.Data) -> Array:
        # orientations: (xx, xz) of every body but the world; height: torso z; velocity: qvel.
        orientations = jnp.stack([data.xmat[1:, 0, 0], data.xmat[1:, 0, 2]], -1).ravel()
        return jnp.concatenate([orientations, data.xpos[self._torso, 2][None], data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        height = data.xpos[self._torso, 2]
        standing = rewards.tolerance(height, bounds=(_STAND_HEIGHT, float("inf")), margin=_STAND_HEIGHT / 2)
        upright = (1 + data.xmat[self._torso, 2, 2]) / 2
        stand_reward = (3 * standing + upright) / 4
        terms = {"standing": standing, "upright": upright}
        if self.move_speed == 0:
            return stand_reward, terms
        move = rewards.tolerance(
            data.sensordata[self._com_velocity],
            bounds=(self.move_speed, float("inf")),
            margin=self.move_speed / 2,
            value_at_margin=0.5,
            sigmoid="linear",
        )
        return stand_reward * (5 * move + 1) / 6, {**terms, "move": move}


TASKS = {
    "walker-stand": TaskSpec(PlanarWalker, ("walker", "stand"), {"move_speed": 0.0}),
    "walker-walk": TaskSpec(PlanarWalker, ("walker", "walk"), {"move_speed": _WALK_SPEED}),
    "walker-run": TaskSpec(PlanarWalker, ("walker", "run"), {"move_speed": _RUN_SPEED}),
}
