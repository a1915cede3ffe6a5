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
    "wrap_for_training",
]
