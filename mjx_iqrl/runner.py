"""`run(cfg)`: the host loop around the compiled chunk: evaluation, logging, checkpoints, resume.

All seeds of a run (`num_seeds`) are one program: the trainer's state is vmapped over a leading seed axis (seed i
uses PRNG seed `seed + i`), and one jitted chunk advances all of them (a one-seed run keeps the axis but is not
vmapped, `over_seeds`). Python only touches data between chunks.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from mjx_iqrl import config, distributed, faults, memory, preemption, schema, sharding
from mjx_iqrl.aggregate import summarize
from mjx_iqrl.checkpoint import Checkpointer
from mjx_iqrl.config import Config, Derived, derive
from mjx_iqrl.errors import ConfigError
from mjx_iqrl.faults import NonFiniteLossError
from mjx_iqrl.logger import make_logger
from mjx_iqrl.training import Trainer, TrainerState, loss_names, make_train
from mjx_iqrl.video import TrainingVideos, video_due

SEED_AXIS = "seed"


class RunResult(NamedTuple):
    """What `run` returns: the run directory and every record it logged."""

    run_dir: Path
    records: list[dict[str, Any]]
    state: TrainerState


def over_seeds(f: Callable[..., Any], num_seeds: int) -> Callable[..., Any]:
    """`f` of one seed as a function of arguments and results with a leading seed axis: vmapped (the axis named
    `SEED_AXIS`), or with one seed, `f` of the arguments' only entries. Both compute the same; the second skips
    batching every loop of the program while it is traced: a third less time to trace and lower a chunk or an
    evaluation on CPU (`benchmarks/compile_cost.py`; XLA's compilation itself takes as long)."""
    if num_seeds > 1:
        return jax.vmap(f, axis_name=SEED_AXIS)

    def one_seed(*args: Any) -> Any:
        return jax.tree.map(lambda x: x[None], f(*jax.tree.map(lambda x: x[0], args)))

    return one_seed


class CompiledRun:
    """The jitted functions of a run over its seed axis, placed on the devices; the chunk is compiled once and kept."""

    def __init__(self, cfg: Config, trainer: Trainer | None = None, devices: list | None = None):
        self.trainer = trainer or make_train(cfg, axis_name=SEED_AXIS if cfg.num_seeds > 1 else None)
        self.mesh = sharding.make_mesh(devices)
        init = over_seeds(self.trainer.init, cfg.num_seeds)
        abstract = jax.eval_shape(init, seed_keys(cfg))
        self.state_sharding = sharding.state_shardings(abstract, cfg, self.mesh)
        self.abstract_state = jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract, self.state_sharding
        )
        replicated = sharding.replicated(self.mesh)
        self.init = jax.jit(init, out_shardings=self.state_sharding)
        self.chunk = jax.jit(
            over_seeds(self.trainer.train_chunk, cfg.num_seeds),
            in_shardings=(self.state_sharding,),
            out_shardings=(self.state_sharding, replicated),
            donate_argnums=0,
        )
        self.evaluate = jax.jit(over_seeds(self.trainer.evaluate, cfg.num_seeds), out_shardings=replicated)
        self.num_seeds = cfg.num_seeds
        self._executables: dict[str, Any] = {}
        self.compile_seconds: dict[str, float] = {}
        """Seconds spent compiling each program ahead of time: chunk, init, evaluate."""

    @property
    def compile_s(self) -> float:
        """Seconds spent compiling so far (every program compiled ahead of time)."""
        return sum(self.compile_seconds.values())

    def _compiled(self, name: str, lower: Any) -> Any:
        if name not in self._executables:
            t0 = time.perf_counter()
            self._executables[name] = lower().compile()
            self.compile_seconds[name] = time.perf_counter() - t0
        return self._executables[name]

    def chunk_executable(self) -> Any:
        """The chunk compiled ahead of time (timed in `compile_seconds`).

        It is lowered from the abstract state, before anything else is traced, so that a fresh run and a resumed
        one produce the same program text and share the persistent compilation cache.
        """
        return self._compiled("chunk", lambda: self.chunk.lower(self.abstract_state))

    def init_executable(self) -> Any:
        """`init` over the seed keys, compiled ahead of time."""
        return self._compiled("init", lambda: self.init.lower(self._abstract_keys()))

    def evaluate_executable(self) -> Any:
        """The evaluation episodes of every seed's policy, compiled ahead of time."""
        params = self.abstract_state.agent.policy_params
        return self._compiled("evaluate", lambda: self.evaluate.lower(params, self._abstract_keys()))

    def _abstract_keys(self) -> jax.ShapeDtypeStruct:
        """One PRNG key per seed, replicated on every device (built from host values, `sharding.from_host`)."""
        return jax.ShapeDtypeStruct((self.num_seeds, 2), jnp.uint32, sharding=sharding.replicated(self.mesh))


def describe_program(cfg: Config, derived: Derived) -> str:
    """One line on what a run compiles: task, seeds x envs, batch, updates per agent step, chunk size."""
    p, q = derived.update_rate
    rate = f"{p / q:g}"
    return (
        f"{cfg.task.name}, {cfg.num_seeds} seed(s) x {cfg.train.num_envs} env(s), batch {cfg.train.batch_size}, "
        f"{rate} update(s) per agent step, {derived.vector_steps_per_chunk} agent steps "
        f"({derived.env_steps_per_chunk} env steps) per chunk, on {jax.default_backend()}"
    )


def program_key(cfg: Config) -> Config:
    """`cfg` with every field that does not shape the compiled programs reset: budget, evaluation and checkpoint
    periods, seed, paths, logging. Runs with equal keys run the same programs."""
    d = Config()
    return dataclasses.replace(
        cfg,
        seed=d.seed,
        preset=d.preset,
        run_dir=None,
        resume=False,
        distributed=False,
        multihost=d.multihost,
        train=dataclasses.replace(cfg.train, total_env_steps=d.train.total_env_steps, max_train_seconds=None),
        eval=dataclasses.replace(cfg.eval, every_env_steps=d.eval.every_env_steps),
        checkpoint=d.checkpoint,
        logger=d.logger,
    )


_COMPILED: collections.OrderedDict[Config, CompiledRun] = collections.OrderedDict()
_COMPILED_KEPT = 3
"""Compiled runs kept in this process (each holds its executables)."""


def compile_run(cfg: Config) -> CompiledRun:
    """make_train for `cfg`, vmapped over seeds and jitted (the chunk donates its input state).

    The last few are kept: a run whose programs equal an earlier one's (`program_key`: another seed, budget or
    evaluation period) reuses its compiled programs instead of compiling them again.
    """
    key = program_key(cfg)
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key]
    compiled = CompiledRun(cfg)
    _COMPILED[key] = compiled
    while len(_COMPILED) > _COMPILED_KEPT:
        _COMPILED.popitem(last=False)
    return compiled


def seed_keys(cfg: Config) -> jax.Array:
    """One PRNG key per seed: seed, seed + 1, ..."""
    return jnp.stack([jax.random.PRNGKey(cfg.seed + i) for i in range(cfg.num_seeds)])


def default_run_dir(cfg: Config) -> Path:
    """runs/<task>/<date>_<time>_seed<seed>."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return Path("runs") / cfg.task.name / f"{stamp}_seed{cfg.seed}"


def run(cfg: Config, run_dir: str | Path | None = None, compiled: CompiledRun | None = None) -> RunResult:
    """Trains `cfg` to `train.total_env_steps`, evaluating, logging and checkpointing between chunks.

    `compiled` reuses the jitted functions of an earlier `compile_run(cfg)` (same shapes), e.g. across tests. A stop
    signal ends the run at the next chunk boundary with a checkpoint (`faults.Preempted`); the faults a user can
    meet are one-line `faults.Fault`s or `ConfigError`s (`mjx_iqrl.faults`).
    """
    distributed.initialize(cfg)
    run_dir = Path(run_dir or cfg.run_dir or default_run_dir(cfg))
    with faults.translated(), preemption.StopSignals() as stop:
        return _train(cfg, run_dir, compiled, stop)


def _train(cfg: Config, run_dir: Path, compiled: CompiledRun | None, stop: preemption.StopSignals) -> RunResult:
    checkpointer = Checkpointer(run_dir, keep=cfg.checkpoint.keep)
    if cfg.resume and checkpointer.latest_step() is None:
        raise ConfigError(f"resume=true but {run_dir} has no checkpoint")
    compiled = compiled or compile_run(cfg)
    trainer = compiled.trainer
    # The budget is this run's own; everything else that shapes the program must match the compiled one.
    derived = derive(cfg, trainer.env.episode_length)
    if derived != trainer.derived:
        raise ValueError("the compiled run was built for a different configuration")
    config_dict = schema.to_dict(cfg)
    # Before compiling: a resume that changes the state's shapes, or a state larger than the device, is one line.
    if cfg.resume:
        _check_resumable_shapes(cfg, run_dir, checkpointer, compiled)
    memory.check_fits(compiled.abstract_state, compiled.mesh.local_devices)

    t_start = time.perf_counter()
    compiled_before = compiled.compile_s  # a reused CompiledRun compiles nothing again
    chunk_fn = _compile(compiled, cfg, derived, progress=cfg.logger.progress and distributed.is_primary())
    state, chunk, env_steps, train_time, saved_chunk = _start(cfg, compiled, checkpointer, run_dir, config_dict)

    per_chunk = derived.env_steps_per_chunk  # env steps of one seed, as the paper counts
    learning_starts = derived.warmup_vector_steps * derived.env_steps_per_vector_step
    logger = make_logger(
        cfg, run_dir, config_dict, resume_env_steps=env_steps if cfg.resume else None, learning_starts=learning_starts
    )
    records: list[dict[str, Any]] = []
    devices = compiled.mesh.local_devices
    videos = TrainingVideos(cfg, run_dir) if cfg.logger.video and distributed.is_primary() else None

    def evaluation(state: TrainerState, chunk: int, env_steps: int, last: bool = False) -> dict[str, Any]:
        out = _evaluate(compiled, state, cfg, chunk)
        video = cfg.logger.video and video_due(cfg, env_steps)
        on_dm_control = last and cfg.eval.dm_control_episodes > 0
        if not (video or on_dm_control):
            return out
        params = distributed.gather(state.agent.policy_params)  # a collective: every process takes part
        if not distributed.is_primary():
            return out
        if videos is not None and video:
            out.update(videos.record(params, env_steps))  # outside the training clock
        if on_dm_control:
            out.update(_evaluate_dm_control(trainer, params, cfg))
        return out

    def emit(record: dict[str, Any]) -> None:
        records.append(record)
        logger.log(record)

    def save() -> None:  # the loop's current chunk and state
        meta = _meta(cfg, trainer, config_dict, chunk, env_steps, train_time)
        checkpointer.save(chunk, state, state.agent.policy_params, meta)

    try:
        if chunk == 0 and not cfg.resume:
            compile_s = compiled.compile_s - compiled_before
            emit({"env_steps": 0, "time/compile_s": compile_s, **evaluation(state, 0, 0)})

        while env_steps < cfg.train.total_env_steps:
            if stop.requested():  # at a chunk boundary: everything up to here goes into a checkpoint
                if saved_chunk != chunk:
                    save()
                raise faults.Preempted(
                    f"{stop.received or 'a stop signal on another process'} at env step {env_steps}: checkpoint "
                    f"{chunk} is in {checkpointer.directory}; continue with run_dir={run_dir} resume=true"
                )
            t0 = time.perf_counter()
            state, metrics = chunk_fn(state)
            metrics = jax.device_get(metrics)
            elapsed = time.perf_counter() - t0
            train_time += elapsed
            chunk, env_steps = chunk + 1, env_steps + per_chunk
            _check_finite(metrics, env_steps, per_chunk)

            updates = derived.updates_after(chunk * derived.vector_steps_per_chunk)
            record: dict[str, Any] = {"env_steps": env_steps, "chunk": chunk, "updates": int(updates)}
            for key, value in metrics.items():
                if key.startswith("train/") and _measured(key, metrics):
                    record.update(summarize(value, key, bootstrap=False))
            record["perf/sps"] = per_chunk * cfg.num_seeds / elapsed
            record["perf/updates_per_s"] = float(np.sum(metrics["train/updates_in_chunk"])) / elapsed
            record["perf/host_rss_bytes"] = memory.host_rss_bytes()
            record["perf/device_bytes_in_use"] = memory.device_bytes_in_use(devices)
            record["time/train_s"] = train_time
            record["time/elapsed_s"] = time.perf_counter() - t_start
            limit = cfg.train.max_train_seconds
            last = env_steps >= cfg.train.total_env_steps or (limit is not None and train_time >= limit)
            if _crossed(env_steps, per_chunk, cfg.eval.every_env_steps) or last:
                record.update(evaluation(state, chunk, env_steps, last))
            # Log before saving: a run killed in between resumes from the previous checkpoint and rewrites this.
            emit(record)
            save_every = cfg.checkpoint.every_env_steps
            if last or (save_every and _crossed(env_steps, per_chunk, save_every)):
                save()
                saved_chunk = chunk
            if last:
                break
    finally:
        logger.close()
        checkpointer.close()
    return RunResult(run_dir=run_dir, records=records, state=state)


def _compile(compiled: CompiledRun, cfg: Config, derived: Derived, progress: bool) -> Any:
    """Compiles the chunk, initialisation and evaluation (saying so on the console); the chunk's executable."""
    if progress:
        print(
            f"mjx_iqrl: compiling the training chunk: {describe_program(cfg, derived)} ...", file=sys.stderr, flush=True
        )
    compiled_before = compiled.compile_s
    chunk_fn = compiled.chunk_executable()
    if progress:
        print("mjx_iqrl: compiling initialisation and evaluation ...", file=sys.stderr, flush=True)
    compiled.init_executable()
    compiled.evaluate_executable()
    if progress:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in compiled.compile_seconds.items())
        print(
            f"mjx_iqrl: compiled in {compiled.compile_s - compiled_before:.0f} s ({parts})", file=sys.stderr, flush=True
        )
    return chunk_fn


class _Start(NamedTuple):
    """Where a run starts: its state and counters, and the chunk of its newest checkpoint (None: none yet)."""

    state: TrainerState
    chunk: int
    env_steps: int
    train_time: float
    saved_chunk: int | None


def _start(cfg: Config, compiled: CompiledRun, checkpointer: Checkpointer, run_dir: Path, config_dict: dict) -> _Start:
    """The newest readable checkpoint (resume=true; an unreadable newer one is one warning line), else a fresh
    state, with the run's config.yaml written."""
    primary = distributed.is_primary()
    if cfg.resume:
        restored = checkpointer.restore_latest(compiled.abstract_state)
        for skipped in restored.unreadable if primary else ():
            print(
                f"warning: checkpoint {skipped.step} in {checkpointer.directory} is unreadable ({skipped.reason}); "
                f"resuming from checkpoint {restored.step}, the unreadable one is kept in {skipped.moved_to}",
                file=sys.stderr,
                flush=True,
            )
        meta = restored.meta
        return _Start(restored.state, meta["chunk"], meta["env_steps"], meta["train_time_s"], meta["chunk"])
    run_dir.mkdir(parents=True, exist_ok=True)
    if primary:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config_dict, sort_keys=False))
    keys = sharding.from_host(seed_keys(cfg), sharding.replicated(compiled.mesh))
    return _Start(compiled.init_executable()(keys), 0, 0, 0.0, None)


def _check_resumable_shapes(cfg: Config, run_dir: Path, checkpointer: Checkpointer, compiled: CompiledRun) -> None:
    """A ConfigError naming each setting that differs from the saved run's, if the checkpoint's state has other
    shapes than `cfg`'s (settings that keep the shapes, such as the budget or evaluation period, may change)."""
    mismatch = checkpointer.shape_mismatch(compiled.abstract_state)
    if mismatch is None:
        return
    saved_file = run_dir / "config.yaml"
    saved = yaml.safe_load(saved_file.read_text()) if saved_file.is_file() else {}
    with contextlib.suppress(ConfigError):  # a file of another version is compared as it is
        saved = schema.to_dict(program_key(config.from_dict(saved)))
    raise faults.resume_mismatch(saved, schema.to_dict(program_key(cfg)), mismatch, saved_file)


# Chunk metrics of the rollout; every other `train/` metric is a mean over the chunk's gradient updates.
_ROLLOUT_METRICS = ("train/episode_return", "train/episodes", "train/noise_std", "train/replay_size")


def _measured(key: str, metrics: dict[str, np.ndarray]) -> bool:
    """False for placeholders: update metrics of a chunk without updates, the return of a chunk without episodes."""
    if key == "train/episode_return":
        return bool(np.any(metrics["train/episodes"]))
    if key in _ROLLOUT_METRICS or key == "train/updates_in_chunk":
        return True
    return bool(np.any(metrics["train/updates_in_chunk"]))


def _crossed(env_steps: int, per_chunk: int, every: int) -> bool:
    """Whether the chunk that ended at `env_steps` crossed a multiple of `every`."""
    return env_steps // every > (env_steps - per_chunk) // every


def _evaluate(compiled: CompiledRun, state: TrainerState, cfg: Config, chunk: int) -> dict[str, Any]:
    """Deterministic-policy returns of every seed (keys depend only on seed and chunk, so resume repeats them)."""
    keys = jax.vmap(lambda k: jax.random.fold_in(k, chunk))(seed_keys(cfg) + 1)
    keys = sharding.from_host(keys, sharding.replicated(compiled.mesh))
    returns = np.asarray(
        jax.device_get(compiled.evaluate_executable()(state.agent.policy_params, keys))
    )  # [S, episodes], replicated: every process reads all of it
    out = summarize(returns.mean(axis=1), "eval/return_mean")
    out["eval/return_std"] = float(returns.std(axis=1).mean())
    return out


def _evaluate_dm_control(trainer: Trainer, params: Any, cfg: Config) -> dict[str, Any]:
    """Every seed's final deterministic policy (host `params` with a leading seed axis) in real dm_control:
    `dm_control/return_mean` (mean over seeds of the per-seed means; `.../per_seed` and the IQM with its CI for
    several seeds)."""
    from mjx_iqrl.agent import make_policy
    from mjx_iqrl.eval_episodes import dm_control_returns

    env = trainer.env
    low, high = env.action_bounds
    policy = make_policy(cfg.agent, env.observation_size, env.action_size, low, high)
    act = jax.jit(policy.act_deterministic)
    repeat = cfg.env.action_repeat
    per_seed = []
    for i in range(cfg.num_seeds):
        seed_params = jax.tree.map(lambda x, i=i: x[i], params)
        act_seed = lambda obs, p=seed_params: act(p, obs)
        returns = dm_control_returns(act_seed, cfg.task.name, cfg.eval.dm_control_episodes, 10_000 * i, repeat)
        per_seed.append(float(returns.mean()))
    return summarize(per_seed, "dm_control/return_mean")


def _check_finite(metrics: dict[str, np.ndarray], env_steps: int, per_chunk: int) -> None:
    """Raises NonFiniteLossError naming the first loss that went non-finite in this chunk, and where."""
    first = np.asarray(metrics["nonfinite/update"])
    if np.all(first < 0):
        return
    seed = int(np.argmax(first >= 0))
    names = loss_names({k.removeprefix("train/"): v for k, v in metrics.items() if k.startswith("train/")})
    loss = names[int(np.asarray(metrics["nonfinite/loss"])[seed])]
    raise NonFiniteLossError(
        f"{loss} became non-finite at update {int(first[seed]) + 1} (seed index {seed}, in the chunk ending at env "
        f"step {env_steps}); stopped, the last good checkpoint is kept"
    )


def policy_meta(cfg: Config, env_steps: int) -> dict[str, Any]:
    """What rebuilding a policy of `cfg` needs without the training code (`checkpoint.load_policy`)."""
    import envs

    task_env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
    low, high = task_env.action_bounds
    return {
        "env_steps": env_steps,
        "config": schema.to_dict(cfg),
        "observation_size": task_env.observation_size,
        "action_size": task_env.action_size,
        "action_low": np.asarray(low).tolist(),
        "action_high": np.asarray(high).tolist(),
    }


def _meta(cfg: Config, trainer: Trainer, config_dict: dict, chunk: int, env_steps: int, train_s: float) -> dict:
    """Checkpoint metadata: where the run is, and what a policy needs to be rebuilt without the training code."""
    low, high = trainer.env.action_bounds
    return {
        "chunk": chunk,
        "env_steps": env_steps,
        "train_time_s": train_s,
        "config": config_dict,
        "derived": dataclasses.asdict(trainer.derived),
        "observation_size": trainer.env.observation_size,
        "action_size": trainer.env.action_size,
        "action_low": np.asarray(low).tolist(),
        "action_high": np.asarray(high).tolist(),
    }
