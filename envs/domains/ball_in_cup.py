"""Ball-in-cup domain (dm_control `suite/ball_in_cup.py`): swing a ball on a string into a cup moved in a plane."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from mujoco import mjx

from envs import physics
from envs.core import DmcEnv, redraw_while_touching
from envs.registry import TaskSpec

# The ball's initial (x, z) slide positions (m) are uniform in these ranges.
_BALL_X_RANGE = (-0.2, 0.2)
_BALL_Z_RANGE = (0.2, 0.5)
# Initial ball positions tried for a collision-free start; dm_control retries without bound.
_MAX_ATTEMPTS = 1000


class BallInCup(DmcEnv):
    """Ball-in-cup catch: the reward is 1 while the ball is inside the cup."""

    XML = "ball_in_cup.xml"
    CONTROL_DT = 0.02
    TIME_LIMIT = 20.0
    # fast: 4 solver / 8 line-search iterations (dm_control: 100 / 50) and at most the 4 deepest of the 16 contact
    # candidates (the ball touches at most two cup parts and the floor at once; the overdamped cup never reaches
    # the floor). Over 1000-step random-action episodes this tracks dm_control as closely as `dmc` does; 1-3
    # iterations did not (the string's pull and the cup's walls then push the ball differently, and the episodes
    # part within 10-100 steps). The 0.002 s timestep stays: the ball bounces off the walls and jerks on the string.
    FAST = physics.Tuning(iterations=4, ls_iterations=8, max_contact_points=4)

    def __init__(self, config=None):
        super().__init__(config)
        self._ball_qpos = np.array([self._named_qpos_adr("ball_x"), self._named_qpos_adr("ball_z")])
        self._ball = self._body_id("ball")
        target = int(self.mj_model.site("target").id)
        self._target = target
        ball_radius = float(self.mj_model.geom_size[self.mj_model.geom("ball").id, 0])
        # The ball is in the cup when its centre is this close to the target's centre in x and in z.
        self._inside = (self.mj_model.site_size[target, [0, 2]] - ball_radius).astype(np.float32)

    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        low, high = np.array([_BALL_X_RANGE[0], _BALL_Z_RANGE[0]]), np.array([_BALL_X_RANGE[1], _BALL_Z_RANGE[1]])

        def draw(attempt: Array) -> mjx.Data:
            ball = jax.random.uniform(jax.random.fold_in(key, attempt), (2,), minval=low, maxval=high)
            return data.replace(qpos=data.qpos.at[self._ball_qpos].set(ball))

        # A draw penetrates the cup about 18% of the time.
        return redraw_while_touching(self.mjx_model, data, draw, _MAX_ATTEMPTS)

    def _get_obs(self, data: mjx.Data) -> Array:
        return jnp.concatenate([data.qpos, data.qvel])

    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        ball_to_target = data.site_xpos[self._target, jnp.array([0, 2])] - data.xpos[self._ball, jnp.array([0, 2])]
        in_target = jnp.all(jnp.abs(ball_to_target) < self._inside).astype(jnp.float32)
        return in_target, {"in_target": in_target}


TASKS = {"cup-catch": TaskSpec(BallInCup, ("ball_in_cup", "catch"))}
