"""Training regimes for the efficiency and frontier benchmarks: parse one, train it with S seeds to a budget, and
summarise its evaluation curve over seeds (IQM with rliable's stratified-bootstrap 95% CIs).

A regime is written `name[:key=value,...]`; the key `seeds` sets its number of seeds (else the benchmark's):
- an iQRL preset (`paper`, `fast`, ... from configs/preset/) with training overrides, e.g.
  `fast:train.num_envs=256,train.batch_size=1024`; its S seeds are vmapped in one program (`num_seeds`), or
  trained one after another with one seed each (`separate_seeds`: each seed on its own clock, as brax's are);
- `brax-ppo` or `brax-sac` with baseline overrides (`python -m mjx_iqrl.baseline --help`), e.g.
  `brax-sac:sac.num_envs=64`; brax trains one seed per program, so its S seeds run one after another.

Every regime is evaluated the same way, by the trainer's protocol (deterministic policy, 1000-step episodes, action
repeat summed, returns on the 0-1000 scale); training seconds exclude compilation and evaluation. The final policy
of every seed can also be evaluated in real dm_control, which measures what training on MJX (and on the `fast`
physics profile) costs when the policy meets dm_control.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import envs
from mjx_iqrl import config
from mjx_iqrl.aggregate import summarize
from mjx_iqrl.curves import seconds_to_reach_per_seed, time_to_reach, with_iqm
from mjx_iqrl.eval_episodes import dm_control_returns

BASELINES = {"brax-ppo": "ppo", "brax-sac": "sac"}
"""Regime names of the brax baselines, and their `algo`."""

Act = Callable[[np.ndarray], Any]
"""A deterministic policy on a batch of observations [N, obs_dim]."""


@dataclasses.dataclass(frozen=True)
class Regime:
    """One regime as written on the command line."""

    text: str
    name: str
    """An iQRL preset, or a key of BASELINES."""
    overrides: tuple[str, ...]
    seeds: int | None = None
    """Seeds of this regime (`seeds=K` in the text); None: the benchmark's default."""

    @property
    def is_baseline(self) -> bool:
        """Whether this is a brax baseline."""
        return self.name in BASELINES


def parse_regime(text: str) -> Regime:
    """'fast:train.num_envs=512,seeds=2' -> Regime('fast', ('train.num_envs=512',), seeds=2)."""
    name, _, rest = text.partition(":")
    overrides = [o for o in rest.split(",") if o]
    seeds = [o for o in overrides if o.startswith("seeds=")]
    if seeds and not seeds[-1].removeprefix("seeds=").isdigit():
        raise ValueError(f"regime {text!r}: seeds must be a positive integer")
    count = int(seeds[-1].removeprefix("seeds=")) if seeds else None
    if count == 0:
        raise ValueError(f"regime {text!r}: seeds must be a positive integer")
    rest_overrides = tuple(o for o in overrides if not o.startswith("seeds="))
    return Regime(text=text, name=name, overrides=rest_overrides, seeds=count)


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every regime trains to: env steps per seed and optionally training seconds; the evaluation period."""

    env_steps: int
    seconds: float | None
    eval_every: int


@dataclasses.dataclass
class SeedRuns:
    """What training a regime produced, before summarising."""

    curve: list[dict[str, Any]]
    """Per evaluation: env_steps, train_s (mean over runs), `returns` [S] (mean over episodes, per seed) and, where
    the seeds trained apart, `train_s_per_seed` [S]."""
    compile_s: float
    train_s: float
    env_steps: int
    updates: int | None
    """Gradient updates per seed (None where the algorithm does not count them so)."""
    acts: list[Act]
    """The final deterministic policy of each seed."""
    settings: dict[str, Any]
    """The regime's resolved sizes (num_envs, batch_size, ...), for the table."""


def _iqrl_config(
    task: str,
    regime: Regime,
    budget: Budget,
    seeds: int,
    extra: Sequence[str],
    checkpoint_every: int = 0,
    seed_offset: int = 0,
) -> config.Config:
    overrides = [
        f"task={task}",
        f"preset={regime.name}",
        f"train.total_env_steps={budget.env_steps}",
        f"eval.every_env_steps={budget.eval_every}",
        f"checkpoint.every_env_steps={checkpoint_every}",
        "logger.progress=false",
        f"num_seeds={seeds}",
        *([f"train.max_train_seconds={budget.seconds}"] if budget.seconds is not None else []),
        *extra,
        *regime.overrides,
    ]
    cfg = config.compose(overrides)
    return dataclasses.replace(cfg, seed=cfg.seed + seed_offset)


def train_iqrl(
    task: str,
    regime: Regime,
    budget: Budget,
    seeds: int,
    extra: Sequence[str],
    out: Path,
    checkpoint_every: int = 0,
    seed_offset: int = 0,
) -> SeedRuns:
    """Trains an iQRL regime with its seeds vmapped in one program (`mjx_iqrl.runner.run`) in the run folder `out`;
    its first seed is the configuration's `seed` plus `seed_offset`.

    With `checkpoint_every` > 0 the run checkpoints that often, and a folder holding a checkpoint of an interrupted
    run is resumed from it (`resume=true`) instead of being trained again; any other content of `out` is replaced.
    """
    from mjx_iqrl.agent import make_policy
    from mjx_iqrl.checkpoint import Checkpointer
    from mjx_iqrl.runner import run

    cfg = _iqrl_config(task, regime, budget, seeds, extra, checkpoint_every, seed_offset)
    resume = False
    if checkpoint_every and out.is_dir():
        checkpointer = Checkpointer(out)
        resume = checkpointer.latest_step() is not None
        checkpointer.close()
    if resume:
        print(f"resuming {task} {regime.text} from its checkpoint in {out}", flush=True)
        cfg = dataclasses.replace(cfg, resume=True)
    elif out.exists():
        shutil.rmtree(out)
    result = run(cfg, run_dir=out)
    # The run's whole log: a resumed run returns only the records written after its checkpoint.
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    curve, compile_s, train_s = [], 0.0, 0.0
    for record in records:
        compile_s = record.get("time/compile_s", compile_s)
        train_s = record.get("time/train_s", train_s)
        if "eval/return_mean" in record:
            per_seed = record.get("eval/return_mean/per_seed", [record["eval/return_mean"]])
            curve.append({"env_steps": record["env_steps"], "train_s": train_s, "returns": per_seed})
    task_env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
    low, high = task_env.action_bounds
    policy = make_policy(cfg.agent, task_env.observation_size, task_env.action_size, low, high)
    acts = []
    for i in range(seeds):
        params = jax.tree.map(lambda x, i=i: x[i], result.state.agent.policy_params)
        acts.append(jax.jit(lambda obs, params=params: policy.act_deterministic(params, obs)))
    last = records[-1]
    t = cfg.train
    return SeedRuns(
        curve=curve,
        compile_s=compile_s,
        train_s=train_s,
        env_steps=last["env_steps"],
        updates=last.get("updates", 0),
        acts=acts,
        settings={
            "algo": "iqrl",
            "preset": cfg.preset,
            "num_envs": t.num_envs,
            "batch_size": t.batch_size,
            "utd_ratio": t.utd_ratio,
            "updates_per_agent_step": t.num_envs * t.utd_ratio,
            "physics": cfg.env.physics,
            "action_repeat": cfg.env.action_repeat,
            "overrides": list(regime.overrides),
        },
    )


def baseline_config(task: str, regime: Regime, budget: Budget, seed_index: int = 0) -> Any:
    """The `mjx_iqrl.baseline` config of a brax regime's seed_index-th seed under `budget`."""
    from mjx_iqrl import baseline

    overrides = [
        f"algo={BASELINES[regime.name]}",
        f"task={task}",
        f"train.total_env_steps={budget.env_steps}",
        f"eval.every_env_steps={budget.eval_every}",
        "progress=false",
        *([f"train.max_train_seconds={budget.seconds}"] if budget.seconds is not None else []),
        *regime.overrides,
    ]
    cfg = baseline.compose(overrides)
    return dataclasses.replace(cfg, seed=cfg.seed + seed_index)


def align_seeds(curves: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One curve from the curves of seeds trained apart (each point env_steps, train_s and `return`), up to the
    shortest (runs stopped by a seconds budget may differ in length): per evaluation the seeds' returns, each seed's
    training seconds and their mean."""
    common = min(len(c) for c in curves)
    return [
        {
            "env_steps": curves[0][k]["env_steps"],
            "train_s": float(np.mean([c[k]["train_s"] for c in curves])),
            "train_s_per_seed": [c[k]["train_s"] for c in curves],
            "returns": [c[k]["return"] for c in curves],
        }
        for k in range(common)
    ]


def train_iqrl_separately(
    task: str, regime: Regime, budget: Budget, seeds: int, extra: Sequence[str], out: Path, checkpoint_every: int = 0
) -> SeedRuns:
    """Trains an iQRL regime once per seed (`num_seeds=1`, seeds `seed`, `seed`+1, ... as the vmapped program
    draws them), one after another in `out`/seed<i>, each on its own clock; the second and later seeds reuse the
    first's compiled program, so `compile_s` is the one compilation."""
    runs = [
        train_iqrl(task, regime, budget, 1, extra, out / f"seed{i}", checkpoint_every, seed_offset=i)
        for i in range(seeds)
    ]
    curve = align_seeds(
        [
            [{"env_steps": p["env_steps"], "train_s": p["train_s"], "return": p["returns"][0]} for p in r.curve]
            for r in runs
        ]
    )
    return SeedRuns(
        curve=curve,
        compile_s=max(r.compile_s for r in runs),
        train_s=curve[-1]["train_s"] if curve else 0.0,
        env_steps=curve[-1]["env_steps"] if curve else 0,
        updates=int(np.mean([r.updates for r in runs])),
        acts=[act for r in runs for act in r.acts],
        settings={**runs[0].settings, "separate_seeds": True},
    )


def train_baseline(task: str, regime: Regime, budget: Budget, seeds: int, out: Path) -> SeedRuns:
    """Trains a brax baseline once per seed (`mjx_iqrl.baseline.run`) from scratch in `out`/seed<i> (what a folder
    held before is replaced) and aligns the seeds' evaluations."""
    from mjx_iqrl import baseline

    runs = []
    for i in range(seeds):
        cfg = baseline_config(task, regime, budget, i)
        shutil.rmtree(out / f"seed{i}", ignore_errors=True)
        runs.append((cfg, baseline.run(cfg, run_dir=out / f"seed{i}")))
    evals = [[r for r in result.records if "eval/return_mean" in r] for _, result in runs]
    curve = align_seeds(
        [
            [{"env_steps": r["env_steps"], "train_s": r["time/train_s"], "return": r["eval/return_mean"]} for r in e]
            for e in evals
        ]
    )
    cfg = runs[0][0]
    options = cfg.options
    return SeedRuns(
        curve=curve,
        # All of a run's compilation: brax compiles its training step after the first evaluation.
        compile_s=float(np.mean([e[-1]["time/compile_s"] for e in evals])),
        train_s=curve[-1]["train_s"] if curve else 0.0,
        env_steps=curve[-1]["env_steps"] if curve else 0,
        updates=None,
        acts=[result.act for _, result in runs],
        settings={
            "algo": cfg.algo,
            "num_envs": options.num_envs,
            "batch_size": options.batch_size,
            "physics": cfg.env.physics,
            "action_repeat": cfg.env.action_repeat,
            "overrides": list(regime.overrides),
        },
    )


def folder_name(text: str) -> str:
    """A file-name-safe folder name for a regime's text."""
    return text.replace(":", "_").replace("=", "-").replace(",", "_").replace("/", "-")


def summarise(
    regime: Regime, runs: SeedRuns, seeds: int, thresholds: Sequence[float], dm_control: dict | None
) -> dict[str, Any]:
    """The benchmark row of one regime: settings, timings, rates, the IQM curve, times to thresholds, final IQM."""
    curve = []
    for p in runs.curve:
        point = with_iqm(p["env_steps"], p["train_s"], p["returns"])
        if "train_s_per_seed" in p:  # seeds trained apart keep their own clocks
            point["train_s_per_seed"] = p["train_s_per_seed"]
        curve.append(point)
    s = runs.settings
    transitions = runs.env_steps // s["action_repeat"]  # per seed: agent steps x envs
    final = curve[-1] if curve else None
    row = {
        "regime": regime.text,
        **s,
        "seeds": seeds,
        "compile_s": runs.compile_s,
        "train_s": runs.train_s,
        "env_steps": runs.env_steps,
        "updates": runs.updates,
        "replay_ratio": runs.updates * s["batch_size"] / transitions if runs.updates and transitions else None,
        "env_steps_per_s": runs.env_steps * seeds / runs.train_s if runs.train_s else None,
        "env_steps_per_s_per_seed": runs.env_steps / runs.train_s if runs.train_s else None,
        "updates_per_s": runs.updates * seeds / runs.train_s if runs.updates and runs.train_s else None,
        "curve": curve,
        "time_to": {f"{t:g}": time_to_reach(curve, t) for t in thresholds},
        "time_to_per_seed": {f"{t:g}": seconds_to_reach_per_seed(curve, t) for t in thresholds},
        "final": None if final is None else {k: final[k] for k in ("iqm", "iqm_ci_low", "iqm_ci_high", "mean")},
        "final_per_seed": None if final is None else final["returns"],
        "dm_control": dm_control,
    }
    return row


def dm_control_evaluation(task: str, acts: list[Act], episodes: int, action_repeat: int) -> dict[str, Any]:
    """Each seed's final policy for `episodes` episodes in real dm_control: per-seed means and their IQM."""
    t0 = time.perf_counter()
    per_seed = [
        float(dm_control_returns(act, task, episodes, 10_000 * i, action_repeat).mean()) for i, act in enumerate(acts)
    ]
    stats = summarize(per_seed, "r")
    return {
        "episodes_per_seed": episodes,
        "per_seed": per_seed,
        "mean": stats["r"],
        "iqm": stats.get("r/iqm", stats["r"]),
        "seconds": time.perf_counter() - t0,
    }


def run_regime(
    task: str,
    text: str,
    budget: Budget,
    seeds: int,
    extra: Sequence[str],
    thresholds: Sequence[float],
    out: Path,
    dm_control_episodes: int = 0,
    checkpoint_every: int = 0,
    separate_seeds: bool = False,
) -> dict[str, Any]:
    """Trains one regime and returns its benchmark row (`summarise`), with the dm_control evaluation if asked.

    `checkpoint_every` > 0 makes an iQRL regime's run in `out` resumable (`train_iqrl`); brax trains from scratch.
    `separate_seeds` trains an iQRL regime's seeds one after another (`train_iqrl_separately`), not vmapped.
    """
    regime = parse_regime(text)
    seeds = regime.seeds or seeds
    folder = out / folder_name(text)
    if regime.is_baseline:
        runs = train_baseline(task, regime, budget, seeds, folder)
    else:
        train = train_iqrl_separately if separate_seeds else train_iqrl
        runs = train(task, regime, budget, seeds, extra, folder, checkpoint_every)
    dm = None
    if dm_control_episodes > 0:
        dm = dm_control_evaluation(task, runs.acts, dm_control_episodes, runs.settings["action_repeat"])
    return summarise(regime, runs, seeds, thresholds, dm)
