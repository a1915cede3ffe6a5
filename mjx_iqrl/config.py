"""The run configuration: a frozen dataclass tree composed by hydra from `configs/`, and the values derived from it.

`configs/config.yaml` holds every default (a test keeps it equal to the dataclass defaults below), `configs/task/`
the reference's per-task overrides, `configs/preset/` the sample-efficient (`paper`), time-efficient (`fast`) and
in-between (`balanced`) regimes. `compose(overrides)` gives a validated `Config`; `derive(cfg, env)` computes the
loop's counts once.
"""

from __future__ import annotations

import dataclasses
import fractions
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mjx_iqrl import schema
from mjx_iqrl.agent import AgentConfig
from mjx_iqrl.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

# The reference's exploration presets, converted from training episodes (1000 env steps each) to env steps.
NOISE_DECAY_ENV_STEPS = {"easy": 50_000, "medium": 150_000, "hard": 500_000}

# Default chunk size per JAX backend (train.chunk_env_steps=None): gradient updates per chunk, and a cap on its env
# steps for the regimes and phases (warm-up) with few or no updates. On 2 CPU cores a paper-size update takes about
# 0.3 s, so 100 updates are ~30 s; an accelerator runs one in milliseconds.
CHUNK_UPDATES = {"cpu": 100, "accelerator": 2_000}
CHUNK_ENV_STEPS = {"cpu": 20_000, "accelerator": 1_000_000}


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """Which task, and its exploration difficulty."""

    name: str = "cheetah-run"
    """Task to train on (`envs.list_tasks()`); dm_control's names are accepted as aliases."""
    difficulty: str = "medium"
    """The reference's exploration preset: easy, medium or hard (noise decays over 50k, 150k or 500k env steps)."""


@dataclasses.dataclass(frozen=True)
class EnvOptions:
    """How the environments are simulated."""

    physics: str = "dmc"
    """Physics profile: dmc (dm_control's solver settings) or fast (tuned for MJX throughput)."""
    impl: str = "jax"
    """MJX backend: jax or warp."""
    action_repeat: int = 2
    """Control steps per agent step; rewards are summed (the reference uses 2)."""
    matmul_precision: str = "highest"
    """Precision of float32 matrix products in the physics: highest (no TF32 on GPUs, MuJoCo Playground's advice),
    high or default."""

    def make_kwargs(self) -> dict[str, Any]:
        """The `envs.make` overrides these options set."""
        return {"physics": self.physics, "impl": self.impl, "matmul_precision": self.matmul_precision}


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """The sample/time trade-off and the training budget."""

    total_env_steps: int = 1_000_000
    """Training budget in env steps (agent steps x action_repeat x num_envs, as the paper counts)."""
    num_envs: int = 1
    """Parallel training environments per seed."""
    utd_ratio: float = 1.0
    """Gradient updates per env transition (one transition = one agent step of one env); fractions allowed."""
    batch_size: int = 256
    """Replay windows per gradient update (shared by the representation and RL losses)."""
    warmup_env_steps: int = 10_000
    """Env steps collected before learning starts (noise std noise_start, no updates)."""
    replay_capacity: int = 1_000_000
    """Replay size in transitions (laid out as capacity // num_envs time steps x num_envs)."""
    chunk_env_steps: int | None = None
    """Env steps per compiled chunk (rounded to whole vector steps); Python logs and checkpoints between chunks.
    None picks it from the regime and the device: about CHUNK_UPDATES gradient updates per chunk, at most
    CHUNK_ENV_STEPS env steps, so that the progress bar moves every half minute or sooner."""
    noise_start: float = 1.0
    """Exploration noise std (in units of the action half-range) during warm-up and at the start of learning."""
    noise_end: float = 0.1
    """Exploration noise std after the decay."""
    noise_decay_env_steps: int | None = None
    """Env steps over which the noise decays linearly after warm-up; None takes it from task.difficulty (times
    noise_decay_scale)."""
    noise_decay_scale: float = 1.0
    """Multiplies the task's exploration decay (task.difficulty) when noise_decay_env_steps is None: regimes with
    fewer updates per env step learn over more env steps, and their exploration should last as long."""
    max_train_seconds: float | None = None
    """Also stop once training (not compilation, evaluation or checkpoints) took this long; None: no time limit."""


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """Evaluation of the deterministic policy."""

    every_env_steps: int = 20_000
    """Evaluate at the first chunk boundary after every multiple of this many env steps (and at step 0)."""
    episodes: int = 10
    """Evaluation episodes, run in parallel envs."""
    dm_control_episodes: int = 0
    """Episodes per seed of the final policy in real dm_control (CPU MuJoCo) at the end of training; 0: none."""


@dataclasses.dataclass(frozen=True)
class LoggerOptions:
    """Where metrics go."""

    progress: bool = True
    """Show a progress bar on the console."""
    wandb: bool = False
    """Also log to Weights & Biases (needs the wandb extra)."""
    wandb_project: str = "mjx_iqrl"
    """Weights & Biases project."""
    wandb_entity: str | None = None
    """Weights & Biases entity (user or team); None uses the default."""
    wandb_mode: str = "online"
    """Weights & Biases mode: online, offline (no network needed) or disabled."""
    video: bool = False
    """Render one evaluation episode of seed 0's policy to <run_dir>/videos/<env_steps>.mp4 (and wandb), on the
    host between chunks; its seconds are kept out of time/train_s."""
    video_every_evals: int = 1
    """Render a video at every this many evaluations (the first evaluation included)."""
    video_size: str = "320x240"
    """Video size WIDTHxHEIGHT (even numbers)."""
    video_camera: int = 0
    """Camera id of the videos (-1: MuJoCo's free camera)."""


@dataclasses.dataclass(frozen=True)
class CheckpointOptions:
    """Checkpoints of the full training state."""

    every_env_steps: int = 100_000
    """Save at the first chunk boundary after every multiple of this many env steps, and at the end; 0 disables."""
    keep: int = 2
    """Most recent checkpoints kept."""


@dataclasses.dataclass(frozen=True)
class MultihostOptions:
    """Where the processes of a multi-host run (distributed=true) find each other; unset values are read from the
    environment, then from the cluster (mjx_iqrl/distributed.py)."""

    coordinator_address: str | None = None
    """host:port of process 0's coordinator; None: $JAX_COORDINATOR_ADDRESS, else the cluster's (SLURM, Open MPI,
    Kubernetes, Cloud TPU)."""
    num_processes: int | None = None
    """Processes in the run (one per host); None: $JAX_NUM_PROCESSES, else the cluster's."""
    process_id: int | None = None
    """This process's index, 0 to num_processes - 1 (process 0 logs); None: $JAX_PROCESS_ID, else the cluster's."""
    initialization_timeout_s: int = 300
    """Seconds to wait for every process to connect before giving up with one line."""
    heartbeat_timeout_s: int = 100
    """Seconds without a heartbeat after which a process counts as dead, and the others stop with one line."""


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole training run."""

    task: TaskOptions = dataclasses.field(default_factory=TaskOptions)
    """Task selection."""
    env: EnvOptions = dataclasses.field(default_factory=EnvOptions)
    """Simulation options."""
    agent: AgentConfig = dataclasses.field(default_factory=AgentConfig)
    """iQRL hyperparameters (REFERENCE.md section 2)."""
    train: TrainOptions = dataclasses.field(default_factory=TrainOptions)
    """Budget and the sample/time trade-off."""
    eval: EvalOptions = dataclasses.field(default_factory=EvalOptions)
    """Evaluation."""
    logger: LoggerOptions = dataclasses.field(default_factory=LoggerOptions)
    """Logging."""
    checkpoint: CheckpointOptions = dataclasses.field(default_factory=CheckpointOptions)
    """Checkpointing."""
    multihost: MultihostOptions = dataclasses.field(default_factory=MultihostOptions)
    """Multi-host runs (distributed=true)."""
    preset: str = "paper"
    """Name of the preset applied (set by configs/preset/<name>.yaml)."""
    seed: int = 42
    """Random seed (seeds of a sweep are seed, seed+1, ...)."""
    num_seeds: int = 1
    """Independent seeds trained together in one program (vmapped)."""
    run_dir: str | None = None
    """Run directory; None: runs/<task>/<date>_<time>_seed<seed>."""
    resume: bool = False
    """Continue the run in run_dir from its latest checkpoint."""
    distributed: bool = False
    """Multi-host run: one process per host, joined by jax.distributed (addresses: multihost.*, the environment or
    the cluster)."""

    def __post_init__(self) -> None:
        positive = {
            "train.total_env_steps": self.train.total_env_steps,
            "train.num_envs": self.train.num_envs,
            "train.batch_size": self.train.batch_size,
            "train.replay_capacity": self.train.replay_capacity,
            "train.chunk_env_steps": 1 if self.train.chunk_env_steps is None else self.train.chunk_env_steps,
            "env.action_repeat": self.env.action_repeat,
            "eval.every_env_steps": self.eval.every_env_steps,
            "eval.episodes": self.eval.episodes,
            "checkpoint.keep": self.checkpoint.keep,
            "multihost.initialization_timeout_s": self.multihost.initialization_timeout_s,
            "multihost.heartbeat_timeout_s": self.multihost.heartbeat_timeout_s,
            "num_seeds": self.num_seeds,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key}={value} must be positive")
        if not self.train.utd_ratio > 0:
            raise ConfigError(f"train.utd_ratio={self.train.utd_ratio} must be positive")
        if self.train.warmup_env_steps < 0 or self.checkpoint.every_env_steps < 0:
            raise ConfigError("train.warmup_env_steps and checkpoint.every_env_steps must be >= 0")
        if self.task.difficulty not in NOISE_DECAY_ENV_STEPS:
            raise ConfigError(f"task.difficulty={self.task.difficulty!r}; known: {', '.join(NOISE_DECAY_ENV_STEPS)}")
        if self.logger.wandb_mode not in ("online", "offline", "disabled"):
            raise ConfigError(f"logger.wandb_mode={self.logger.wandb_mode!r}; known: online, offline, disabled")
        if self.eval.dm_control_episodes < 0:
            raise ConfigError(f"eval.dm_control_episodes={self.eval.dm_control_episodes} must be >= 0")
        if self.logger.video_every_evals < 1:
            raise ConfigError(f"logger.video_every_evals={self.logger.video_every_evals} must be positive")
        if self.logger.video:
            from envs.render import parse_size

            try:
                parse_size(self.logger.video_size)
            except ConfigError as err:
                raise ConfigError(f"logger.video_size: {err}") from None
        if not 0 <= self.train.noise_end <= self.train.noise_start:
            raise ConfigError("exploration noise needs 0 <= train.noise_end <= train.noise_start")
        if not self.train.noise_decay_scale > 0:
            raise ConfigError(f"train.noise_decay_scale={self.train.noise_decay_scale} must be positive")
        if self.train.batch_size > self.train.replay_capacity:
            raise ConfigError(
                f"train.batch_size={self.train.batch_size} is larger than the replay holds "
                f"(train.replay_capacity={self.train.replay_capacity} transitions)"
            )


@dataclasses.dataclass(frozen=True)
class Derived:
    """Counts the loop needs, computed once from a Config and the task (never written back)."""

    env_steps_per_vector_step: int
    """num_envs x action_repeat: env steps of one agent step of every env."""
    vector_steps_per_chunk: int
    """Agent steps of the vectorised env per compiled chunk."""
    update_rate: tuple[int, int]
    """num_envs x utd_ratio as an exact fraction (numerator, denominator): gradient updates per vector step."""
    warmup_vector_steps: int
    """Vector steps before learning starts (at least horizon + 1, so that windows can be sampled)."""
    replay_length: int
    """Time steps of the replay ring (capacity // num_envs)."""
    noise_decay_env_steps: int
    """Env steps of the linear noise decay after warm-up."""
    agent_steps_per_episode: int
    """Agent steps per episode (episode_length / action_repeat)."""

    @property
    def env_steps_per_chunk(self) -> int:
        """Env steps of one chunk."""
        return self.vector_steps_per_chunk * self.env_steps_per_vector_step

    def updates_after(self, vector_steps: Any) -> Any:
        """Gradient updates done after `vector_steps` agent steps of the vectorised env (Python or JAX integers).

        floor(max(0, v - warmup) * p / q), computed as (a // q) * p + (a % q) * p // q so that int32 never overflows
        before the count itself would.
        """
        p, q = self.update_rate
        a = vector_steps - self.warmup_vector_steps
        a = a * (a > 0)
        return (a // q) * p + ((a % q) * p) // q


def chunk_vector_steps(cfg: Config, backend: str | None = None) -> int:
    """Vector steps per chunk: train.chunk_env_steps when set, else the default for the regime on `backend`
    (None: JAX's default backend), about CHUNK_UPDATES updates and at most CHUNK_ENV_STEPS env steps."""
    t = cfg.train
    per_vector = t.num_envs * cfg.env.action_repeat
    if t.chunk_env_steps is not None:
        return max(1, round(t.chunk_env_steps / per_vector))
    if backend is None:
        import jax

        backend = jax.default_backend()
    kind = "cpu" if backend == "cpu" else "accelerator"
    updates_per_vector_step = t.num_envs * t.utd_ratio
    by_updates = CHUNK_UPDATES[kind] / updates_per_vector_step
    by_env_steps = CHUNK_ENV_STEPS[kind] / per_vector
    return max(1, math.floor(min(by_updates, by_env_steps)))


def derive(cfg: Config, episode_length: int, backend: str | None = None) -> Derived:
    """The loop's counts for `cfg` on a task with `episode_length` control steps; ConfigError if impossible.

    `backend` (default: JAX's) only matters for the default chunk size (`chunk_vector_steps`).
    """
    t = cfg.train
    if episode_length % cfg.env.action_repeat:
        raise ConfigError(f"env.action_repeat={cfg.env.action_repeat} does not divide the episode ({episode_length})")
    per_vector = t.num_envs * cfg.env.action_repeat
    chunk = chunk_vector_steps(cfg, backend)
    horizon = cfg.agent.horizon
    replay_length = t.replay_capacity // t.num_envs
    if replay_length < horizon + 1:
        raise ConfigError(
            f"train.replay_capacity={t.replay_capacity} holds only {replay_length} steps of each of "
            f"{t.num_envs} envs; windows of agent.horizon={horizon} need at least {horizon + 1}"
        )
    warmup = max(math.ceil(t.warmup_env_steps / per_vector), horizon + 1)
    if warmup >= replay_length:
        raise ConfigError(f"the warm-up ({warmup} vector steps) does not fit in the replay ({replay_length})")
    rate = fractions.Fraction(t.utd_ratio).limit_denominator(1_000_000) * t.num_envs
    decay = t.noise_decay_env_steps
    if decay is None:
        decay = round(NOISE_DECAY_ENV_STEPS[cfg.task.difficulty] * t.noise_decay_scale)
    return Derived(
        env_steps_per_vector_step=per_vector,
        vector_steps_per_chunk=chunk,
        update_rate=(rate.numerator, rate.denominator),
        warmup_vector_steps=warmup,
        replay_length=replay_length,
        noise_decay_env_steps=max(1, decay),
        agent_steps_per_episode=episode_length // cfg.env.action_repeat,
    )


def from_dict(values: dict[str, Any]) -> Config:
    """A Config from a nested plain dict (unknown keys and wrong types are one-line ConfigErrors)."""
    return schema.from_mapping(Config, values)


def _parse_override(text: str) -> tuple[str, Any]:
    """Splits and type-checks one `key=value` override against the Config schema (values parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.lstrip("+~")
    if key in ("task", "preset"):
        return key, raw
    return key, schema.parse_value(raw, schema.leaf_hint(Config, key), key)


def check_overrides(overrides: Sequence[str]) -> None:
    """Validates command-line overrides before hydra sees them: known keys, right types, known task and preset."""
    import envs

    for text in overrides:
        if text.lstrip("+~").startswith(("hydra.", "hydra/")):
            continue  # hydra's own settings (launcher, sweep and run directories) are hydra's to check
        key, value = _parse_override(text)
        if key == "task":
            envs.resolve(str(value))
            if not (CONFIG_DIR / "task" / f"{envs.resolve(str(value))}.yaml").is_file():
                raise ConfigError(f"task {value!r} has no config file configs/task/{envs.resolve(str(value))}.yaml")
        elif key == "preset":
            presets = sorted(p.stem for p in (CONFIG_DIR / "preset").glob("*.yaml"))
            if value not in presets:
                raise ConfigError(f"unknown preset {value!r}; known: {', '.join(presets)}")


def normalise_overrides(overrides: Sequence[str]) -> list[str]:
    """Maps `task=<alias>` to the canonical task name (hydra looks up configs/task/<name>.yaml)."""
    import envs

    out = []
    for text in overrides:
        key, _, value = text.partition("=")
        out.append(f"task={envs.resolve(value)}" if key == "task" else text)
    return out


def compose(overrides: Sequence[str] = ()) -> Config:
    """The Config that `python -m mjx_iqrl.train <overrides>` would run (hydra's compose API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    check_overrides(overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        composed = hydra_compose(config_name="config", overrides=normalise_overrides(overrides))
    return from_omegaconf(OmegaConf.to_container(composed, resolve=True))


def from_omegaconf(values: dict[str, Any]) -> Config:
    """A Config from hydra's composed (resolved, plain) config, ignoring hydra's own `hydra` node."""
    values = {k: v for k, v in values.items() if k != "hydra"}
    return from_dict(values)
