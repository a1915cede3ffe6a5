"""Learning curves of run folders: reading `metrics.jsonl` and `config.yaml`, grouping runs that differ only in
seed, and the IQM over seeds with rliable's 95% CIs at each evaluation, with the env steps and seconds to a return.

A run folder is what `python -m mjx_iqrl.train` or `python -m mjx_iqrl.baseline` writes (a hydra `--multirun`
folder holds one per job); a run with `num_seeds=S` holds S seeds (`eval/return_mean/per_seed`). Runs whose
configurations are equal once the seed, paths, logging and checkpointing are set aside form one configuration,
and their seeds are pooled. Used by `python -m mjx_iqrl.plot` and by the benchmarks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from mjx_iqrl import schema
from mjx_iqrl.aggregate import summarize
from mjx_iqrl.errors import ConfigError

IGNORED = ("seed", "num_seeds", "run_dir", "resume", "distributed", "progress", "logger.", "checkpoint.")
"""Config keys (or key prefixes) that do not make two runs different configurations."""


class Run(NamedTuple):
    """One run folder's evaluations."""

    path: Path
    task: str
    config: dict[str, Any]
    """The flattened configuration (dotted keys)."""
    env_steps: list[int]
    train_s: list[float]
    returns: list[list[float]]
    """Per evaluation: the return of each of the run's seeds."""
    dm_control: list[float] | None
    """The final policy's return in dm_control per seed, where the run evaluated it."""


class Group(NamedTuple):
    """Runs of one configuration (differing only in seed), evaluated at the same env steps."""

    key: tuple[tuple[str, Any], ...]
    runs: list[Run]
    points: list[dict[str, Any]]
    """Per evaluation step common to all runs: env_steps, train_s (mean), returns (every seed), iqm, its CI."""

    @property
    def task(self) -> str:
        """The task of the configuration."""
        return self.runs[0].task

    @property
    def seeds(self) -> int:
        """Seeds pooled over the runs."""
        return sum(len(r.returns[0]) for r in self.runs if r.returns)


def run_folders(paths: Sequence[str | Path]) -> list[Path]:
    """The run folders under `paths`: each path that holds `metrics.jsonl`, else its subfolders that do (a
    multirun folder); ConfigError (one line) for a path with neither."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "metrics.jsonl").is_file():
            found.append(path)
            continue
        below = sorted(p.parent for p in path.glob("*/metrics.jsonl")) if path.is_dir() else []
        if not below:
            raise ConfigError(f"{path} holds no metrics.jsonl (nor do its subfolders): not a run folder")
        found.extend(below)
    return found


def read_run(path: Path) -> Run:
    """A run folder's configuration and evaluations (records with `eval/return_mean`)."""
    config_file = path / "config.yaml"
    config = schema.flatten(yaml.safe_load(config_file.read_text())) if config_file.is_file() else {}
    task = config.get("task.name", config.get("task", "unknown task"))
    env_steps, train_s, returns, dm_control, clock = [], [], [], None, 0.0
    for line in (path / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        clock = record.get("time/train_s", clock)
        if record.get("eval/return_mean") is not None:
            env_steps.append(int(record["env_steps"]))
            train_s.append(float(clock))
            returns.append(record.get("eval/return_mean/per_seed") or [record["eval/return_mean"]])
        if record.get("dm_control/return_mean") is not None:
            dm_control = record.get("dm_control/return_mean/per_seed") or [record["dm_control/return_mean"]]
    return Run(path, str(task), config, env_steps, train_s, returns, dm_control)


def config_key(run: Run) -> tuple[tuple[str, Any], ...]:
    """The run's configuration without the keys that `IGNORED` sets aside, hashable."""
    kept = {k: v for k, v in run.config.items() if not any(k == p or k.startswith(p) for p in IGNORED if p)}
    return tuple(sorted((k, json.dumps(v)) for k, v in kept.items()))


def with_iqm(env_steps: int, train_s: float, returns: list[float]) -> dict[str, Any]:
    """An evaluation point with the IQM over seeds, the mean and their 95% CIs (the value itself for one seed)."""
    stats = summarize(returns, "r")
    iqm = stats.get("r/iqm", stats["r"])
    return {
        "env_steps": env_steps,
        "train_s": train_s,
        "returns": list(returns),
        "mean": stats["r"],
        "iqm": iqm,
        "iqm_ci_low": stats.get("r/iqm_ci_low", iqm),
        "iqm_ci_high": stats.get("r/iqm_ci_high", iqm),
    }


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Runs grouped by configuration (first-seen order), each with its IQM curve over the evaluation steps that
    all of its runs reached."""
    by_key: dict[tuple, list[Run]] = {}
    for run in runs:
        by_key.setdefault(config_key(run), []).append(run)
    groups = []
    for key, members in by_key.items():
        common = sorted(set.intersection(*(set(r.env_steps) for r in members)))
        points = []
        for step in common:
            at = [r.env_steps.index(step) for r in members]
            returns = [x for r, i in zip(members, at, strict=True) for x in r.returns[i]]
            seconds = float(np.mean([r.train_s[i] for r, i in zip(members, at, strict=True)]))
            points.append(with_iqm(step, seconds, returns))
        groups.append(Group(key, list(members), points))
    return groups


def labels(groups: Sequence[Group]) -> list[str]:
    """A legend entry per group: the configuration keys in which the groups differ (or the task and preset)."""
    keys = [dict(g.key) for g in groups]
    differing = sorted({k for d in keys for k in d if any(e.get(k) != d.get(k) for e in keys)})
    out = []
    for group, d in zip(groups, keys, strict=True):
        if differing:
            text = ", ".join(f"{k}={json.loads(d[k]) if k in d else '-'}" for k in differing)
        else:
            cfg = group.runs[0].config
            text = f"{group.task} ({cfg.get('preset', cfg.get('algo', 'run'))})"
        out.append(f"{text} [{group.seeds} seed{'s' if group.seeds != 1 else ''}]")
    return out


def time_to_reach(points: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    """When the IQM over seeds first reaches `threshold` (env steps and training seconds), with the interval from
    the IQM's 95% CI: its upper bound reaches the threshold first, its lower bound last (None in the interval if
    not within the run). None if the IQM never reaches it."""

    def first(key: str) -> dict[str, Any] | None:
        return next((p for p in points if p[key] >= threshold), None)

    at, early, late = first("iqm"), first("iqm_ci_high"), first("iqm_ci_low")
    if at is None:
        return None
    return {
        "env_steps": at["env_steps"],
        "train_s": at["train_s"],
        "env_steps_ci": [early["env_steps"], late["env_steps"] if late else None],
        "train_s_ci": [early["train_s"], late["train_s"] if late else None],
    }


def seconds_to_reach_per_seed(points: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Each seed's own time to `threshold`: the env steps and training seconds (on the seed's own clock,
    `train_s_per_seed`, where the seeds trained apart; else the shared `train_s`) of its first evaluation at or
    above it, None where it never gets there; and, once every seed has, the IQM of those seconds over seeds with
    rliable's 95% CI (else None, with the count that did)."""
    seeds = len(points[0]["returns"]) if points else 0
    per_seed: list[dict[str, Any] | None] = []
    for i in range(seeds):
        hit = next((p for p in points if p["returns"][i] >= threshold), None)
        clock = None if hit is None else hit.get("train_s_per_seed", [hit["train_s"]] * seeds)[i]
        per_seed.append(None if hit is None else {"env_steps": hit["env_steps"], "train_s": clock})
    seconds = [s["train_s"] for s in per_seed if s is not None]
    out: dict[str, Any] = {"per_seed": per_seed, "reached": len(seconds), "seeds": seeds}
    out["train_s_iqm"] = out["train_s_iqm_ci"] = None
    if seeds and len(seconds) == seeds:
        stats = summarize(seconds, "s")
        out["train_s_iqm"] = stats.get("s/iqm", stats["s"])
        out["train_s_iqm_ci"] = [
            stats.get("s/iqm_ci_low", out["train_s_iqm"]),
            stats.get("s/iqm_ci_high", out["train_s_iqm"]),
        ]
    return out
