"""dm_control itself, as the reference: load the original task, read its physics state and flat observation.

Used by the fidelity tests and benchmarks, and to evaluate a policy in real dm_control. Imports `dm_control.suite`
lazily, so the rest of `envs` never needs dm_control's Python modules.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from envs import physics, registry


class _WithoutTotalmassNotice(logging.Filter):
    """Drops MuJoCo's `settotalmass` notice, which dm_control forwards to absl's logger when it compiles a model."""

    def filter(self, record: logging.LogRecord) -> bool:
        return physics.SETTOTALMASS_NOTICE not in record.getMessage()


_NOTICE_FILTER = _WithoutTotalmassNotice()


def load(task: str, seed: int | None = None) -> Any:
    """dm_control's own environment for a registered task name or alias, seeded."""
    # No rendering is needed; without this dm_control probes for a display at import.
    os.environ.setdefault("MUJOCO_GL", "disabled")
    from dm_control import suite

    logging.getLogger("absl").addFilter(_NOTICE_FILTER)  # adding the same filter again is a no-op
    domain, name = registry.spec(task).dm_control
    return suite.load(domain, name, task_kwargs={"random": seed})


def flat_obs(timestep: Any) -> np.ndarray:
    """dm_control's observation dict flattened in its own key order (what our envs return)."""
    return np.concatenate([np.asarray(v, np.float64).ravel() for v in timestep.observation.values()])


def physics_state(dm_env: Any, env: Any = None) -> dict[str, Any]:
    """The parts of dm_control's physics state that define the next step, as `DmcEnv.reset_to` arguments; with
    our `env`, also the per-episode targets that dm_control keeps in its model."""
    d = dm_env.physics.data
    model_state = env.unwrapped.dm_control_model_state(dm_env.physics) if env is not None else {}
    return model_state | {
        "qpos": np.array(d.qpos),
        "qvel": np.array(d.qvel),
        "act": np.array(d.act),
        "ctrl": np.array(d.ctrl),
        "qacc_warmstart": np.array(d.qacc_warmstart),
        "time": float(d.time),
    }
