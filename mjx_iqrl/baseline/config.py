"""The baseline run configuration: a frozen dataclass tree composed by hydra from `configs/baseline/`.

`configs/baseline/config.yaml` holds every default (a test keeps it equal to the dataclasses below): brax's PPO and
SAC with MuJoCo Playground's published DMC settings, which the file cites. `configs/baseline/playground_tasks.yaml`
holds Playground's per-task changes; `compose` puts them before the command line's overrides, so the command line
wins. What is not Playground's is our protocol: action repeat 2 with summed rewards, deterministic evaluation over
1000-step episodes, returns on the 0-1000 scale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mjx_iqrl import schema
from mjx_iqrl.config import EnvOptions
from mjx_iqrl.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "baseline"
ALGOS = ("ppo", "sac")


@dataclasses.dataclass(frozen=True)
class PPOOptions:
    """brax.training.agents.ppo.train arguments (defaults: Playground's brax_ppo_config for the DMC suite)."""

    num_envs: int = 2048
    """Parallel training environments."""
    batch_size: int = 1024
    """Environments' unrolls per minibatch."""
    unroll_length: int = 30
    """Agent steps per unroll."""
    num_minibatches: int = 32
    """Minibatches per training step."""
    num_updates_per_batch: int = 16
    """Passes over the collected batch per training step."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    entropy_cost: float = 1e-2
    """Weight of the entropy bonus."""
    discounting: float = 0.995
    """Discount factor."""
    reward_scaling: float = 10.0
    """Rewards are multiplied by this in the loss."""
    clipping_epsilon: float = 0.3
    """PPO ratio clip (brax's default)."""
    gae_lambda: float = 0.95
    """GAE lambda (brax's default)."""
    normalize_observations: bool = True
    """Running mean/std observation normalisation."""
    num_resets_per_eval: int = 10
    """Times all envs are reset between two evaluations (brax splits an evaluation period into this many parts)."""
    policy_hidden_layer_sizes: tuple[int, ...] = (32, 32, 32, 32)
    """Policy MLP widths (brax's default network)."""
    value_hidden_layer_sizes: tuple[int, ...] = (256, 256, 256, 256, 256)
    """Value MLP widths (brax's default network)."""
    num_timesteps: int = 60_000_000
    """Playground's budget in env steps; train.total_env_steps=None uses it."""


@dataclasses.dataclass(frozen=True)
class SACOptions:
    """brax.training.agents.sac.train arguments (defaults: Playground's brax_sac_config for the DMC suite)."""

    num_envs: int = 128
    """Parallel training environments."""
    batch_size: int = 512
    """Transitions per gradient update."""
    grad_updates_per_step: int = 8
    """Gradient updates per vector step of all envs."""
    learning_rate: float = 1e-3
    """Adam learning rate (actor, critic and temperature)."""
    discounting: float = 0.99
    """Discount factor."""
    reward_scaling: float = 1.0
    """Rewards are multiplied by this in the critic loss."""
    tau: float = 0.005
    """Polyak rate of the target critics (brax's default)."""
    normalize_observations: bool = True
    """Running mean/std observation normalisation."""
    max_replay_size: int = 4_194_304
    """Replay capacity in transitions."""
    min_replay_size: int = 8192
    """Transitions collected by the initial policy before learning."""
    hidden_layer_sizes: tuple[int, ...] = (256, 256)
    """Actor and critic MLP widths (brax's default network)."""
    q_network_layer_norm: bool = True
    """LayerNorm in the critic (Playground's setting)."""
    num_timesteps: int = 5_000_000
    """Playground's budget in env steps; train.total_env_steps=None uses it."""


@dataclasses.dataclass(frozen=True)
class BudgetOptions:
    """How long a baseline trains."""

    total_env_steps: int | None = None
    """Env steps (agent steps x action_repeat x num_envs); None: the algorithm's num_timesteps."""
    max_train_seconds: float | None = None
    """Also stop at the first evaluation after training (not compilation or evaluation) took this long."""


@dataclasses.dataclass(frozen=True)
class BaselineEvalOptions:
    """Evaluation, by the trainer's protocol: deterministic policy, whole 1000-step episodes, returns 0-1000."""

    every_env_steps: int | None = None
    """Evaluate about every this many env steps (brax rounds to its training steps); None: 10 evaluations."""
    episodes: int = 10
    """Evaluation episodes, run in parallel envs."""
    dm_control_episodes: int = 0
    """Also evaluate the final policy for this many episodes in real dm_control (0: no)."""


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """A whole baseline run."""

    algo: str = "ppo"
    """Baseline algorithm: ppo or sac (brax's trainers)."""
    task: str = "cartpole-swingup"
    """Task to train on (`envs.list_tasks()`); dm_control's names are accepted as aliases."""
    env: EnvOptions = dataclasses.field(default_factory=EnvOptions)
    """Simulation options (action repeat 2: our protocol; Playground uses 1)."""
    ppo: PPOOptions = dataclasses.field(default_factory=PPOOptions)
    """PPO settings (used when algo=ppo)."""
    sac: SACOptions = dataclasses.field(default_factory=SACOptions)
    """SAC settings (used when algo=sac)."""
    train: BudgetOptions = dataclasses.field(default_factory=BudgetOptions)
    """Budget."""
    eval: BaselineEvalOptions = dataclasses.field(default_factory=BaselineEvalOptions)
    """Evaluation."""
    progress: bool = True
    """Print one line per evaluation on the console."""
    seed: int = 0
    """Random seed."""
    run_dir: str | None = None
    """Run directory; None: runs/baseline/<algo>/<task>/<date>_<time>_seed<seed>."""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; known: {', '.join(ALGOS)}")
        positive = {
            "eval.episodes": self.eval.episodes,
            f"{self.algo}.num_envs": self.options.num_envs,
            f"{self.algo}.batch_size": self.options.batch_size,
            "env.action_repeat": self.env.action_repeat,
        }
        for key, value in [*positive.items(), ("train.total_env_steps", self.train.total_env_steps)]:
            if value is not None and value <= 0:
                raise ConfigError(f"{key}={value} must be positive")
        if self.eval.every_env_steps is not None and self.eval.every_env_steps <= 0:
            raise ConfigError(f"eval.every_env_steps={self.eval.every_env_steps} must be positive")
        if self.eval.dm_control_episodes < 0:
            raise ConfigError("eval.dm_control_episodes must be >= 0")

    @property
    def options(self) -> PPOOptions | SACOptions:
        """The chosen algorithm's settings."""
        return self.ppo if self.algo == "ppo" else self.sac

    @property
    def total_env_steps(self) -> int:
        """The budget in env steps: train.total_env_steps, else the algorithm's num_timesteps."""
        return self.train.total_env_steps or self.options.num_timesteps

    @property
    def num_evals(self) -> int:
        """Evaluations brax runs, the one before training included."""
        every = self.eval.every_env_steps or max(1, self.total_env_steps // 10)
        return max(2, -(-self.total_env_steps // every) + 1)


def playground_task_overrides(algo: str, task: str) -> list[str]:
    """Playground's per-task changes for `algo` on `task` (canonical name), as key=value overrides."""
    table = yaml.safe_load((CONFIG_DIR / "playground_tasks.yaml").read_text()) or {}
    return [f"{key}={value}" for key, value in (table.get(algo, {}).get(task) or {}).items()]


def check_overrides(overrides: Sequence[str]) -> None:
    """Validates command-line overrides: known keys, right types, a known task and algo."""
    import envs

    for text in overrides:
        if text.lstrip("+~").startswith(("hydra.", "hydra/")):
            continue
        if "=" not in text:
            raise ConfigError(f"override {text!r} is not of the form key=value")
        key, raw = text.split("=", 1)
        key = key.lstrip("+~")
        hint = schema.leaf_hint(BaselineConfig, key)
        value = schema.parse_value(raw, hint, key)
        if key == "task":
            envs.resolve(str(value))
        if key == "algo" and value not in ALGOS:
            raise ConfigError(f"unknown algo {value!r}; known: {', '.join(ALGOS)}")


def _choice(overrides: Sequence[str], key: str, default: str) -> str:
    values = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == key]
    return values[-1] if values else default


def with_task_defaults(overrides: Sequence[str]) -> list[str]:
    """The command line with the task alias resolved and Playground's per-task changes put first (so they lose)."""
    import envs

    task = envs.resolve(_choice(overrides, "task", BaselineConfig.task))
    algo = _choice(overrides, "algo", BaselineConfig.algo)
    rest = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "task"]
    return [*playground_task_overrides(algo, task), f"task={task}", *rest]


def compose(overrides: Sequence[str] = ()) -> BaselineConfig:
    """The BaselineConfig that `python -m mjx_iqrl.baseline <overrides>` would run (hydra's compose API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    check_overrides(overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        composed = hydra_compose(config_name="config", overrides=with_task_defaults(overrides))
    return from_omegaconf(OmegaConf.to_container(composed, resolve=True))


def from_omegaconf(values: dict[str, Any]) -> BaselineConfig:
    """A BaselineConfig from hydra's composed config, ignoring hydra's own `hydra` node."""
    return schema.from_mapping(BaselineConfig, {k: v for k, v in values.items() if k != "hydra"})
