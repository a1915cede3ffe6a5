"""Baselines on identical tasks: brax's PPO and SAC trained on our MJX envs, logged and evaluated like iQRL.

`compose(overrides)` gives a validated `BaselineConfig` (MuJoCo Playground's published DMC settings by default),
`run(cfg)` trains it; `python -m mjx_iqrl.baseline algo=ppo task=cartpole-swingup` is the command line.
"""

# envs first: it imports mujoco.mjx with MJX's notice about the optional Warp backend silenced, so that brax's own
# import of mujoco.mjx later finds it loaded and prints nothing.
import envs  # noqa: F401
from mjx_iqrl.baseline.config import BaselineConfig, compose
from mjx_iqrl.baseline.runner import BaselineResult, run

__all__ = ["BaselineConfig", "BaselineResult", "compose", "run"]
