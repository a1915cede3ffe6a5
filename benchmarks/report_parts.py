"""The parts of the GPU report (`benchmarks/gpu_report.py`): each measures one headline figure within a deadline.

A part is `fn(sizes, deadline) -> dict`: it runs its items in order of value and, when the deadline would be passed,
records the items it did not reach under `skipped` with the reason. `sizes` (`ReportSizes`) holds every size, so
`--smoke` shrinks all parts at once. Parts reuse the benchmarks' own measurements (env_throughput, update_throughput,
seed_scaling) and the trainer itself (`mjx_iqrl.runner.run`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs
from benchmarks import env_throughput, seed_scaling, update_throughput
from benchmarks.regimes import time_to_reach
from mjx_iqrl import config

SMOKE_TRAINING = (
    "agent.horizon=2",
    "agent.latent_dim=8",
    "agent.mlp_dims=[16]",
    "agent.enc_mlp_dims=[16]",
    "agent.num_critics=2",
    "train.num_envs=4",
    "train.batch_size=16",
    "train.warmup_env_steps=400",
    "train.chunk_env_steps=400",
    "train.replay_capacity=8000",
    "eval.episodes=2",
)
"""The smoke's training program: small networks, a 2-step horizon, 4 envs, warm-up and chunks of 400 env steps."""


@dataclasses.dataclass(frozen=True)
class ReportSizes:
    """Every size the report uses; `smoke()` gives the tiny CPU ones."""

    tasks: tuple[str, ...] = ("cheetah-run", "walker-walk", "humanoid-walk")
    """Env throughput tasks, most important first (the first also trains)."""
    num_envs: tuple[int, ...] = (256, 1024, 4096, 16384)
    """Env counts of the throughput sweep."""
    env_steps_per_call: int = 100
    """Control steps per timed env call."""
    batch_sizes: tuple[int, ...] = (256, 4096, 1024, 8192)
    """Update throughput batch sizes, most wanted first."""
    seeds: tuple[int, ...] = (1, 8, 32, 4, 16)
    """Seeds of the paper protocol's scaling, most wanted first."""
    updates_per_call: int = 50
    """Updates per timed call."""
    train_overrides: tuple[str, ...] = ()
    """Extra overrides of every training and update part (the smoke's small networks)."""
    fast_overrides: tuple[str, ...] = ()
    """Extra overrides of the fast-regime training."""
    paper_overrides: tuple[str, ...] = ()
    """Extra overrides of the paper-protocol training."""
    paper_seeds: int = 8
    """Seeds of the paper-protocol training."""
    fast_seeds: int = 1
    """Seeds of the fast-regime training."""
    train_env_steps: int = 1_000_000_000
    """Env steps at most of each training part; on an accelerator the part's deadline ends it first."""
    seed_scaling_overrides: tuple[str, ...] = ("train.warmup_env_steps=1000", "train.chunk_env_steps=400")
    """Overrides of the seed-scaling runs (a short warm-up, chunks of 400 updates)."""
    eval_every: int = 100_000
    """Env steps between evaluations of the fast regime."""
    paper_eval_every: int = 10_000
    """Env steps between evaluations of the paper protocol."""
    precision_steps: int = 100
    """Control steps of the GPU-vs-CPU precision check."""
    precision_num_envs: int = 4096
    """Envs of the precision speed check."""
    dm_control_episodes: int = 5
    """dm_control episodes of the fast policy."""
    repeats: int = 3
    """Timed calls per measurement (median)."""

    @classmethod
    def smoke(cls) -> ReportSizes:
        """Tiny sizes for a CPU run of every part in about 2 minutes on one core: pendulum-swingup (the cheapest
        physics to compile) and one small training program that the fast, seed-scaling and paper parts share."""
        return cls(
            tasks=("pendulum-swingup",),
            num_envs=(8,),
            env_steps_per_call=5,
            batch_sizes=(16,),
            seeds=(2,),
            updates_per_call=2,
            train_overrides=SMOKE_TRAINING,
            # The smoke's fast run trains the smoke's paper program (one compilation for both parts).
            fast_overrides=("env.physics=dmc", "train.utd_ratio=1.0", "agent.nstep=1", "train.noise_decay_scale=1.0"),
            paper_seeds=2,
            fast_seeds=2,
            train_env_steps=1200,
            seed_scaling_overrides=(),
            eval_every=400,
            paper_eval_every=400,
            precision_steps=10,
            precision_num_envs=8,
            dm_control_episodes=1,
            repeats=1,
        )


Deadline = float
"""time.perf_counter() value by which a part must end."""


def seconds_left(deadline: Deadline) -> float:
    """Seconds until the deadline."""
    return deadline - time.perf_counter()


def _skip_rest(items: list[Any], reason: str) -> list[dict[str, Any]]:
    return [{"item": item, "reason": reason} for item in items]


def env_throughput_part(sizes: ReportSizes, deadline: Deadline, tasks: tuple[str, ...]) -> dict[str, Any]:
    """Env steps/s of `tasks` x both physics profiles x num_envs, next to raw vmap(mjx.step) on the same model."""
    rows, skipped, compile_s = [], [], 0.0
    items = [(t, p, n) for t in tasks for p in ("dmc", "fast") for n in sizes.num_envs]
    for k, (task, profile, n) in enumerate(items):
        if rows and seconds_left(deadline) < 2 * max(r["env_compile_s"] + r["raw_compile_s"] for r in rows):
            skipped = _skip_rest(items[k:], "the part's share of the budget was used up")
            break
        row = env_throughput.measure(task, profile, n, sizes.env_steps_per_call, sizes.repeats)
        compile_s += row["env_compile_s"] + row["raw_compile_s"]
        rows.append(row)
    return {"results": rows, "skipped": skipped, "compile_s": compile_s}


def update_throughput_part(sizes: ReportSizes, deadline: Deadline) -> dict[str, Any]:
    """ms per update of the paper-size update loop (one seed) at each batch size."""
    rows, skipped = [], []
    overrides = [f"task={sizes.tasks[0]}", "logger.progress=false", *sizes.train_overrides]
    for k, batch in enumerate(sizes.batch_sizes):
        if rows and seconds_left(deadline) < 3 * rows[-1]["compile_s"]:
            skipped = _skip_rest(list(sizes.batch_sizes[k:]), "the part's share of the budget was used up")
            break
        rows.append(update_throughput.measure(overrides, batch, 1, sizes.updates_per_call, sizes.repeats, 20_000))
    return {"results": rows, "skipped": skipped, "compile_s": sum(r["compile_s"] for r in rows)}


def seed_scaling_part(sizes: ReportSizes, deadline: Deadline) -> dict[str, Any]:
    """The paper protocol (1 env, utd 1) with S seeds in one program: total and per-seed updates/s."""
    overrides = [
        f"task={sizes.tasks[0]}",
        "preset=paper",
        "logger.progress=false",
        *sizes.seed_scaling_overrides,
        *sizes.train_overrides,
    ]
    rows, skipped = [], []
    for k, s in enumerate(sizes.seeds):
        if rows and seconds_left(deadline) < 2 * (rows[-1]["compile_s"] + 10):
            skipped = _skip_rest(list(sizes.seeds[k:]), "the part's share of the budget was used up")
            break
        rows.append(seed_scaling.measure(overrides, s, chunks=2))
    for row in rows:
        row["updates_per_s_ratio_to_1"] = row["updates_per_s"] / rows[0]["updates_per_s"]
    return {"results": rows, "skipped": skipped, "compile_s": sum(r["compile_s"] for r in rows)}


def _train(overrides: list[str], deadline: Deadline, out: Path) -> tuple[dict[str, Any], Any, Any]:
    """Compiles, then trains until shortly before the deadline; returns the curve summary, result and config."""
    from mjx_iqrl.runner import compile_run, run

    cfg = config.compose(overrides)
    compiled = compile_run(cfg)
    before = compiled.compile_s
    compiled.chunk_executable(), compiled.init_executable(), compiled.evaluate_executable()
    # Evaluations and the last chunk's overrun come on top of the training seconds.
    seconds = max(1.0, 0.85 * seconds_left(deadline))
    cfg = config.compose([*overrides, f"train.max_train_seconds={seconds}"])
    result = run(cfg, run_dir=out, compiled=compiled)
    curve = []
    for r in result.records:
        if "eval/return_mean" in r:
            # The trainer logs the IQM over seeds and its CI (`mjx_iqrl.aggregate`); one seed logs its return only.
            iqm = r.get("eval/return_mean/iqm", r["eval/return_mean"])
            curve.append(
                {
                    "env_steps": r["env_steps"],
                    "train_s": r.get("time/train_s", 0.0),
                    "returns": r.get("eval/return_mean/per_seed", [r["eval/return_mean"]]),
                    "iqm": iqm,
                    "iqm_ci_low": r.get("eval/return_mean/iqm_ci_low", iqm),
                    "iqm_ci_high": r.get("eval/return_mean/iqm_ci_high", iqm),
                }
            )
    last = result.records[-1]
    summary = {
        "overrides": overrides,
        "num_envs": cfg.train.num_envs,
        "batch_size": cfg.train.batch_size,
        "utd_ratio": cfg.train.utd_ratio,
        "physics": cfg.env.physics,
        "seeds": cfg.num_seeds,
        "compile_s": compiled.compile_s - before,
        "train_s": last.get("time/train_s", 0.0),
        "env_steps": last["env_steps"],
        "updates": last.get("updates"),
        "curve": curve,
        "time_to": {f"{t:g}": time_to_reach(curve, t) for t in (500.0, 800.0)},
        "final_iqm": curve[-1]["iqm"] if curve else None,
    }
    return summary, result, cfg


def fast_training_part(sizes: ReportSizes, deadline: Deadline, out: Path) -> dict[str, Any]:
    """The `fast` preset on the first task for the part's time: time to 500 and 800, final return, and the final
    policy in real dm_control (or exported for a later dm_control evaluation where dm_control is not installed)."""
    from mjx_iqrl.checkpoint import export_policy
    from mjx_iqrl.eval_episodes import dm_control_returns
    from mjx_iqrl.runner import policy_meta

    overrides = [
        f"task={sizes.tasks[0]}",
        "preset=fast",
        f"num_seeds={sizes.fast_seeds}",
        f"train.total_env_steps={sizes.train_env_steps}",
        f"eval.every_env_steps={sizes.eval_every}",
        "checkpoint.every_env_steps=0",
        "logger.progress=false",
        *sizes.train_overrides,
        *sizes.fast_overrides,
    ]
    summary, result, cfg = _train(overrides, deadline, out / "fast_run")
    params = jax.tree.map(lambda x: x[0], result.state.agent.policy_params)
    policy_file = export_policy(out / f"fast_policy_{cfg.task.name}", params, policy_meta(cfg, summary["env_steps"]))
    summary["policy_file"] = policy_file.name
    try:
        from mjx_iqrl.checkpoint import load_policy

        policy = load_policy(policy_file)
        t0 = time.perf_counter()
        returns = dm_control_returns(policy.act, cfg.task.name, sizes.dm_control_episodes, 0, cfg.env.action_repeat)
        summary["dm_control"] = {
            "episodes": len(returns),
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "seconds": time.perf_counter() - t0,
        }
    except ImportError as err:  # the GPU image has dm_control's model files but not its Python package
        summary["dm_control"] = {
            "skipped": f"dm_control cannot be imported here ({err}); evaluate later with "
            f"python -m mjx_iqrl.evaluate {policy_file.name} --backend dm_control"
        }
    return summary


def paper_training_part(sizes: ReportSizes, deadline: Deadline, out: Path) -> dict[str, Any]:
    """The paper protocol on the first task with `paper_seeds` vmapped seeds for the rest of the budget."""
    overrides = [
        f"task={sizes.tasks[0]}",
        "preset=paper",
        f"num_seeds={sizes.paper_seeds}",
        f"train.total_env_steps={sizes.train_env_steps}",
        f"eval.every_env_steps={sizes.paper_eval_every}",
        "checkpoint.every_env_steps=0",
        "logger.progress=false",
        *sizes.train_overrides,
        *sizes.paper_overrides,
    ]
    return _train(overrides, deadline, out / "paper_run")[0]


@functools.cache
def _rollout(task: str, precision: str, steps: int, device: Any) -> np.ndarray:
    """Observations of `steps` control steps (fixed random actions, one env) computed on `device` (computed once per
    argument set: on a CPU-only machine the reference and the accelerator's highest-precision rollout coincide)."""
    env = envs.make(task, matmul_precision=precision)
    low, high = env.action_bounds
    actions = np.random.default_rng(0).uniform(low, high, (steps, env.action_size)).astype(np.float32)

    def run(key, actions):
        def body(state, action):
            state = env.step(state, action)
            return state, state.obs

        return jax.lax.scan(body, env.reset(key), actions)[1]

    key, acts = jax.device_put((jax.random.PRNGKey(0), jnp.asarray(actions)), device)
    return np.asarray(jax.jit(run)(key, acts))


def _earlier_row(done: dict[str, Any], part: str, **match: Any) -> dict[str, Any] | None:
    """The row of an earlier part's results with the given values, if that part ran and measured it."""
    rows = done.get(part, {}).get("results", []) if done.get(part, {}).get("status") == "ok" else []
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def precision_part(sizes: ReportSizes, deadline: Deadline, done: dict[str, Any]) -> dict[str, Any]:
    """Largest observation difference from the CPU after `precision_steps` steps under default and highest
    matmul precision, and the speed cost of highest for env stepping and for the update. Speeds that an earlier part
    measured at the same sizes (`done`: env stepping at highest, the update at default) are taken from it."""
    task = sizes.tasks[0]
    cpu = jax.devices("cpu")[0]
    accelerator = jax.devices()[0]
    reference = _rollout(task, "highest", sizes.precision_steps, cpu)
    out: dict[str, Any] = {"task": task, "steps": sizes.precision_steps, "device": str(accelerator)}
    for precision in ("default", "highest"):
        obs = _rollout(task, precision, sizes.precision_steps, accelerator)
        diff = np.abs(obs - reference)
        out[f"max_obs_diff_{precision}"] = float(diff.max())
        out[f"max_obs_diff_{precision}_first_10_steps"] = float(diff[:10].max())
    speed: dict[str, Any] = {}
    for precision in ("default", "highest"):
        earlier = _earlier_row(
            done, "env_throughput", task=task, profile="dmc", num_envs=sizes.precision_num_envs, precision=precision
        )
        if earlier is not None:
            speed[f"env_{precision}"] = {"env_steps_per_s": earlier["env_steps_per_s"], "from": "env_throughput"}
            continue
        if seconds_left(deadline) < 10:
            speed[f"env_{precision}"] = {"skipped": "the part's share of the budget was used up"}
            continue
        row = env_throughput.measure(
            task, "dmc", sizes.precision_num_envs, sizes.env_steps_per_call, sizes.repeats, precision
        )
        speed[f"env_{precision}"] = {"env_steps_per_s": row["env_steps_per_s"], "compile_s": row["env_compile_s"]}
    overrides = [f"task={task}", "logger.progress=false", *sizes.train_overrides]
    for precision in ("default", "highest"):
        # The update-throughput part measures the config's default precision ("default") at batch_sizes[0].
        earlier = _earlier_row(done, "update_throughput", batch_size=sizes.batch_sizes[0], num_seeds=1)
        if precision == "default" and earlier is not None:
            speed["update_default"] = {"ms_per_update": earlier["ms_per_update_step"], "from": "update_throughput"}
            continue
        if seconds_left(deadline) < 10:
            speed[f"update_{precision}"] = {"skipped": "the part's share of the budget was used up"}
            continue
        row = update_throughput.measure(
            [*overrides, f"agent.matmul_precision={precision}"],
            sizes.batch_sizes[0],
            1,
            sizes.updates_per_call,
            sizes.repeats,
            20_000,
        )
        speed[f"update_{precision}"] = {"ms_per_update": row["ms_per_update_step"], "compile_s": row["compile_s"]}
    out["speed"] = speed
    out["env_highest_over_default"] = _ratio(speed, "env", "env_steps_per_s")
    out["update_highest_over_default"] = _ratio(speed, "update", "ms_per_update")
    return out


def _ratio(speed: dict[str, Any], part: str, key: str) -> float | None:
    """speed[part_highest][key] / speed[part_default][key], or None if either was skipped."""
    high, default = speed.get(f"{part}_highest", {}), speed.get(f"{part}_default", {})
    return high[key] / default[key] if key in high and key in default else None
