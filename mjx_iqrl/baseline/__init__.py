"""Baselines on identical tasks: brax's PPO and SAC trained on our MJX envs, logged and evaluated like iQRL.

`compose(overrides)` gives a validated `BaselineConfig` (MuJoCo Playground's published DMC settings by default),
`run(cfg)` trains it; `python -m mjx_iqrl.baseline algo=ppo task=cartpole-swingup` is the command line.
"""

from mjx_iqrl.baseline.config import BaselineConfig, compose
from mjx_iqrl.baseline.runner import BaselineResult, run

__all__ = ["BaselineConfig", "BaselineResult", "compose", "run"]
