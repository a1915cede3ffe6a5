"""`run(cfg)`: one brax PPO or SAC training on one of our MJX tasks, logged like an iQRL run.

brax's own trainer (`brax.training.agents.{ppo,sac}.train`) trains on `envs.to_brax(task)`, wrapped by
`envs.brax_adapter.wrap_for_brax_training` (time limit, summed action repeat, freshly randomised restarts). brax
evaluates by our protocol: the deterministic policy (`deterministic_eval=True`) on `eval.episodes` envs for one
whole episode (1000 env steps, `episode_length // action_repeat` agent steps, rewards summed), so returns are on the
0-1000 scale, as the trainer's.

The run directory has the trainer's layout: `config.yaml`, `metrics.jsonl` with the same keys (`env_steps`,
`eval/return_mean`, `time/train_s`, `time/compile_s`, ...) and `checkpoints/` (brax's format, one per evaluation).
Training seconds are brax's training wall time minus the compilation that happened inside it; compilation is timed
by JAX's own compile events (`jax.monitoring`), wherever it happens.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import yaml

from mjx_iqrl import schema
from mjx_iqrl.baseline.compat import ensure_device_put_replicated
from mjx_iqrl.baseline.config import BaselineConfig
from mjx_iqrl.logger import JsonlSink

CHECKPOINT_DIR = "checkpoints"
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class BaselineResult(NamedTuple):
    """What `run` returns: the run directory, every record logged, and the final deterministic policy."""

    run_dir: Path
    records: list[dict[str, Any]]
    act: Callable[[np.ndarray], np.ndarray]
    """act(obs [N, obs_dim]) -> actions [N, action_dim] of the newest checkpoint, deterministic."""


class _BudgetReached(Exception):
    """Raised from brax's progress callback to end training at the seconds budget."""


class TimeSpans:
    """A union of wall-clock spans: overlapping spans are counted once."""

    def __init__(self) -> None:
        # Disjoint (start, end) spans in time order.
        self._spans: list[tuple[float, float]] = []

    @property
    def seconds(self) -> float:
        """Wall seconds covered by at least one span."""
        return sum(end - start for start, end in self._spans)

    def add(self, duration: float, end: float | None = None) -> None:
        """Adds a span of `duration` seconds that ended at `end` (perf_counter seconds; default now). Spans are added
        in the order they end."""
        end = time.perf_counter() if end is None else end
        start = end - duration
        while self._spans and self._spans[-1][1] > start:
            earlier_start, earlier_end = self._spans.pop()
            start, end = min(start, earlier_start), max(end, earlier_end)
        self._spans.append((start, end))


class CompileClock:
    """Seconds JAX spent tracing, lowering and compiling while `measuring()` is active, and the seconds not spent
    training: compilation plus the evaluations added with `evaluated`.

    Each clock counts a union of spans. JAX's compile events can nest, and an evaluation can compile (brax
    recompiles its evaluator when the parameters' layout changes): both are counted once."""

    def __init__(self) -> None:
        self._compiling = TimeSpans()
        self._not_training = TimeSpans()

    @property
    def seconds(self) -> float:
        """Seconds spent compiling."""
        return self._compiling.seconds

    @property
    def not_training_seconds(self) -> float:
        """Seconds spent compiling or evaluating."""
        return self._not_training.seconds

    def evaluated(self, duration: float, end: float | None = None) -> None:
        """Records an evaluation of `duration` seconds that ended at `end` (default now)."""
        self._not_training.add(duration, end)

    def compiled(self, duration: float, end: float | None = None) -> None:
        """Records a compile event of `duration` seconds that ended at `end` (default now)."""
        end = time.perf_counter() if end is None else end
        self._compiling.add(duration, end)
        self._not_training.add(duration, end)

    def _listener(self, event: str, duration: float, **_: Any) -> None:
        if event in _COMPILE_EVENTS:
            self.compiled(duration)

    @contextmanager
    def measuring(self) -> Iterator[CompileClock]:
        """Counts compile events until the block ends."""
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        try:
            yield self
        finally:
            jax.monitoring.unregister_event_duration_listener(self._listener)


def default_run_dir(cfg: BaselineConfig) -> Path:
    """runs/baseline/<algo>/<task>/<date>_<time>_seed<seed>."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return Path("runs") / "baseline" / cfg.algo / cfg.task / f"{stamp}_seed{cfg.seed}"


def _trainer_kwargs(cfg: BaselineConfig, episode_length: int) -> tuple[Callable[..., Any], dict[str, Any]]:
    """brax's train function for cfg.algo and its keyword arguments (budget, evaluation and checkpoints aside)."""
    common = {
        "num_timesteps": cfg.total_env_steps,
        "episode_length": episode_length,
        "action_repeat": cfg.env.action_repeat,
        "num_eval_envs": cfg.eval.episodes,
        "num_evals": cfg.num_evals,
        "deterministic_eval": True,
        "seed": cfg.seed,
    }
    if cfg.algo == "ppo":
        from brax.training.agents.ppo import train

        o = cfg.ppo
        names = (
            "num_envs",
            "batch_size",
            "unroll_length",
            "num_minibatches",
            "num_updates_per_batch",
            "learning_rate",
            "entropy_cost",
            "discounting",
            "reward_scaling",
            "clipping_epsilon",
            "gae_lambda",
            "normalize_observations",
            "num_resets_per_eval",
        )
        return train.train, {**common, **{n: getattr(o, n) for n in names}, "network_factory": _network_factory(cfg)}
    from brax.training.agents.sac import train

    o = cfg.sac
    names = (
        "num_envs",
        "batch_size",
        "grad_updates_per_step",
        "learning_rate",
        "discounting",
        "reward_scaling",
        "tau",
        "normalize_observations",
        "max_replay_size",
        "min_replay_size",
    )
    return train.train, {**common, **{n: getattr(o, n) for n in names}, "network_factory": _network_factory(cfg)}


def _networks_module(cfg: BaselineConfig) -> Any:
    """brax's networks module of cfg.algo."""
    if cfg.algo == "ppo":
        from brax.training.agents.ppo import networks
    else:
        from brax.training.agents.sac import networks
    return networks


def _network_factory(cfg: BaselineConfig) -> Callable[..., Any]:
    """brax's network factory of cfg.algo with this config's layer sizes."""
    networks = _networks_module(cfg)
    if cfg.algo == "ppo":
        return functools.partial(
            networks.make_ppo_networks,
            policy_hidden_layer_sizes=cfg.ppo.policy_hidden_layer_sizes,
            value_hidden_layer_sizes=cfg.ppo.value_hidden_layer_sizes,
        )
    return functools.partial(
        networks.make_sac_networks,
        hidden_layer_sizes=cfg.sac.hidden_layer_sizes,
        q_network_layer_norm=cfg.sac.q_network_layer_norm,
    )


def _load_policy(
    cfg: BaselineConfig, checkpoints: Path, observation_size: int, action_size: int
) -> Callable[[np.ndarray], np.ndarray]:
    """The deterministic policy of the newest checkpoint, its network rebuilt from this run's config.

    brax 0.14.2's own `load_policy` cannot read back the network config it wrote (a None initializer, PPO's default
    `mean_kernel_init_fn`, and the observation size as a serialised array spec), so only the parameters are read.
    """
    from brax.training import checkpoint as brax_checkpoint
    from brax.training.acme import running_statistics

    newest = max(p for p in checkpoints.iterdir() if p.name.isdigit())
    options = cfg.ppo if cfg.algo == "ppo" else cfg.sac
    normalize = running_statistics.normalize if options.normalize_observations else (lambda obs, _: obs)
    network = _network_factory(cfg)(observation_size, action_size, preprocess_observations_fn=normalize)
    policy = _networks_module(cfg).make_inference_fn(network)(brax_checkpoint.load(newest), deterministic=True)
    key = jax.random.PRNGKey(0)  # unused by a deterministic policy
    return jax.jit(lambda obs: policy(obs, key)[0])


def run(cfg: BaselineConfig, run_dir: str | Path | None = None) -> BaselineResult:
    """Trains the baseline, logging one record per evaluation; ends at the env-step or seconds budget."""
    import envs
    from envs.brax_adapter import wrap_for_brax_training

    ensure_device_put_replicated()
    task_env = envs.make(cfg.task, **cfg.env.make_kwargs())
    run_dir = Path(run_dir or cfg.run_dir or default_run_dir(cfg)).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(schema.to_dict(cfg), sort_keys=False))
    checkpoints = run_dir / CHECKPOINT_DIR
    sink = JsonlSink(run_dir / "metrics.jsonl")
    records: list[dict[str, Any]] = []
    clock = CompileClock()
    # Training seconds: wall time since the first evaluation, less the time spent compiling or evaluating since
    # (brax's own walltime metric differs between PPO and SAC, and includes the compilation of their training steps).
    first: dict[str, float] = {}
    limit = cfg.train.max_train_seconds

    def progress(step: int, metrics: dict[str, Any]) -> None:
        now = time.perf_counter()
        # brax calls this right after the evaluation it reports.
        clock.evaluated(float(metrics.get("eval/epoch_eval_time", 0.0)), now)
        if not first:
            first.update(wall=now, not_training=clock.not_training_seconds)
        train_s = max(0.0, now - first["wall"] - (clock.not_training_seconds - first["not_training"]))
        record = {
            "env_steps": int(step),
            "eval/return_mean": float(metrics["eval/episode_reward"]),
            "eval/return_std": float(metrics.get("eval/episode_reward_std", math.nan)),
            "time/train_s": train_s,
            "time/compile_s": clock.seconds,
        }
        if "training/sps" in metrics:
            record["perf/sps"] = float(metrics["training/sps"])
        records.append(record)
        sink.write(record)
        if cfg.progress:
            print(
                f"{cfg.algo} {cfg.task}: {step:>10d} env steps  return {record['eval/return_mean']:7.1f}  "
                f"train {train_s:7.1f} s  compile {clock.seconds:6.1f} s",
                file=sys.stderr,
                flush=True,
            )
        if limit is not None and train_s >= limit:
            raise _BudgetReached

    train_fn, kwargs = _trainer_kwargs(cfg, task_env.episode_length)
    checkpoint_arg = "save_checkpoint_path" if cfg.algo == "ppo" else "checkpoint_logdir"
    try:
        with clock.measuring(), contextlib.suppress(_BudgetReached):
            train_fn(
                environment=envs.to_brax(task_env),
                wrap_env_fn=wrap_for_brax_training,
                progress_fn=progress,
                **{checkpoint_arg: str(checkpoints)},
                **kwargs,
            )
        act = _load_policy(cfg, checkpoints, task_env.observation_size, task_env.action_size)
        if cfg.eval.dm_control_episodes:
            from mjx_iqrl.eval_episodes import dm_control_returns

            returns = dm_control_returns(
                act, envs.resolve(cfg.task), cfg.eval.dm_control_episodes, cfg.seed, cfg.env.action_repeat
            )
            final = {
                "env_steps": records[-1]["env_steps"],
                "dm_control/return_mean": float(returns.mean()),
                "dm_control/return_std": float(returns.std()),
            }
            records.append(final)
            sink.write(final)
    finally:
        sink.close()
    return BaselineResult(run_dir=run_dir, records=records, act=act)
