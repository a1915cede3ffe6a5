"""DMControl-equivalent tasks on MuJoCo MJX: registry, env API, wrappers and reward helpers."""

import contextlib
import io

# mujoco.mjx prints to stdout when the optional MuJoCo Warp backend is not installed; impl='warp' says so itself.
with contextlib.redirect_stdout(io.StringIO()):
    from mujoco import mjx  # noqa: F401

from envs.core import DmcEnv, EnvConfig, State
from envs.errors import ConfigError, ModelFilesError
from envs.registry import list_tasks, make, resolve
from envs.wrappers import ActionRepeat, AutoReset, TimeLimit, Vmap, wrap_for_training


def to_brax(env: DmcEnv):
    """A registered task as a `brax.envs.Env`, for brax's wrappers and trainers (imports brax: envs.brax_adapter)."""
    from envs.brax_adapter import to_brax as adapt

    return adapt(env)


__all__ = [
    "ActionRepeat",
    "AutoReset",
    "ConfigError",
    "DmcEnv",
    "EnvConfig",
    "ModelFilesError",
    "State",
    "TimeLimit",
    "Vmap",
    "list_tasks",
    "make",
    "resolve",
    "to_brax",
    "wrap_for_training",
]
