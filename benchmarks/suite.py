"""Learning across tasks against the field's published curves: does iQRL here learn what it ports?

Per task and regime (`benchmarks/regimes.py` syntax: an iQRL preset with overrides, or a brax baseline) it trains S
seeds (iQRL: vmapped in one program) to a budget of env steps, and records:
- the IQM curve over seeds with rliable's 95% CIs, the final IQM, training and compile seconds;
- the final policies' return in real dm_control next to their MJX return (the transfer gap, per physics profile);
- every published algorithm's mean at the same env steps (`benchmarks/anchors/`, read by `mjx_iqrl.anchors`), and
  the ratio of ours to it.
Over tasks, per regime and published algorithm: the mean and IQM of the per-task ratios, the number of tasks at or
above it, and the mean final return over the tasks next to its mean there.

A row is written as soon as its task finishes: the JSON and the PNG (one panel per task and an aggregate panel) are
rewritten each time, read back and merged first, so that several processes with disjoint `--tasks` can fill one
result. `--resume` keeps the rows already in the JSON (same budget and settings) and runs the others; an iQRL run
interrupted mid-way continues from its own checkpoint in `--runs-dir` (every `--checkpoint-every` env steps).
Published comparisons are recomputed from the stored curves at every write, so they follow the anchor files.

    python benchmarks/suite.py --tasks dmc-easy --regimes paper balanced --seeds 3 --env-steps 100000
    python benchmarks/suite.py --tasks cartpole-swingup walker-walk --seeds 2 --env-steps 100000 \\
        --set agent.latent_dim=64 "agent.mlp_dims=[128,128]" "agent.enc_mlp_dims=[128]" --resume
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import envs
from benchmarks.common import RESULTS_DIR, device_name, write_result
from benchmarks.regimes import Budget, parse_regime, run_regime
from mjx_iqrl import anchors, plotting

TASK_GROUPS = {
    "cpu-suite": (
        "cartpole-swingup",
        "reacher-easy",
        "cup-catch",
        "finger-spin",
        "walker-walk",
        "cheetah-run",
        "pendulum-swingup",
        "hopper-stand",
    ),
    "dmc-hard": tuple(t for t in envs.list_tasks() if t.startswith(("dog-", "humanoid-"))),
}
"""Named task lists; `dmc-easy` and `dmc-medium` (the reference's exploration presets, configs/task/) are added
below, and `all` is every ported task. `dmc-hard` is the field's DMC-Hard (dog and humanoid)."""

SETTING_KEYS = ("seeds", "env_steps", "seconds", "eval_every", "dm_control_episodes", "overrides")
"""The settings a row was trained under; --resume keeps only rows whose settings equal the current ones."""


def _difficulty_groups() -> dict[str, tuple[str, ...]]:
    import yaml

    task_dir = Path(__file__).resolve().parent.parent / "configs" / "task"
    groups: dict[str, list[str]] = {}
    for task in envs.list_tasks():
        difficulty = yaml.safe_load((task_dir / f"{task}.yaml").read_text())["task"]["difficulty"]
        groups.setdefault(f"dmc-{difficulty}", []).append(task)
    return {name: tuple(tasks) for name, tasks in groups.items() if name != "dmc-hard"}


def expand_tasks(names: Sequence[str]) -> list[str]:
    """Task names and group names to a list of tasks (in order, without repeats); SystemExit for unknown names."""
    groups = {**TASK_GROUPS, **_difficulty_groups(), "all": tuple(envs.list_tasks())}
    out: list[str] = []
    for name in names:
        if name in groups:
            out.extend(groups[name])
        else:
            try:
                out.append(envs.resolve(name))
            except envs.ConfigError as err:
                raise SystemExit(f"--tasks: {err} (groups: {', '.join(sorted(groups))})") from None
    return list(dict.fromkeys(out))


def published(row: dict[str, Any], algos: Sequence[str], root: Path | None = None) -> dict[str, Any]:
    """Each published algorithm's mean at the row's evaluation steps and at its final step, and our IQM's ratio to
    it (None where the algorithm has no curve for the task, or none that covers the step)."""
    out = {}
    for algo in algos:
        points = []
        for p in row["curve"]:
            at = anchors.at(algo, row["task"], p["env_steps"], root)
            points.append(None if at is None else {"env_steps": p["env_steps"], "mean": at.mean})
        final = None
        if row["final"] is not None and (at := anchors.at(algo, row["task"], row["env_steps"], root)) is not None:
            ours = row["final"]["iqm"]
            final = {
                "env_steps": row["env_steps"],
                "mean": at.mean,
                "per_seed": list(at.per_seed.values()),
                "ratio": ours / at.mean if at.mean > 0 else None,
                "at_or_above": ours >= at.mean,
            }
        out[algo] = {"curve": points, "final": final}
    return out


def _iqm(values: Sequence[float]) -> float:
    from scipy import stats

    return float(stats.trim_mean(np.asarray(values, np.float64), 0.25))


def aggregate(rows: list[dict[str, Any]], algos: Sequence[str]) -> dict[str, Any]:
    """Per regime: per published algorithm the mean and IQM of the per-task ratios, the tasks at or above it, and
    the mean final return over those tasks next to the algorithm's; the mean transfer gap per physics profile."""
    out: dict[str, Any] = {}
    for regime in dict.fromkeys(r["regime"] for r in rows):
        mine = [r for r in rows if r["regime"] == regime and r["final"] is not None]
        entry: dict[str, Any] = {"tasks": [r["task"] for r in mine], "vs": {}}
        for algo in algos:
            hits = [r for r in mine if r["published"][algo]["final"] is not None]
            if not hits:
                continue
            ratios = [r["published"][algo]["final"]["ratio"] for r in hits]
            ratios = [x for x in ratios if x is not None]
            ours = float(np.mean([r["final"]["iqm"] for r in hits]))
            theirs = float(np.mean([r["published"][algo]["final"]["mean"] for r in hits]))
            entry["vs"][algo] = {
                "tasks": [r["task"] for r in hits],
                "ratio_mean": float(np.mean(ratios)) if ratios else None,
                "ratio_iqm": _iqm(ratios) if ratios else None,
                "at_or_above": sum(r["published"][algo]["final"]["at_or_above"] for r in hits),
                "mean_return": ours,
                "published_mean_return": theirs,
                "mean_return_ratio": ours / theirs if theirs > 0 else None,
            }
        gaps: dict[str, list[float]] = {}
        for r in mine:
            if r["dm_control"] is not None:
                gaps.setdefault(r["physics"], []).append(r["transfer_gap"])
        entry["transfer_gap_mean"] = {k: float(np.mean(v)) for k, v in gaps.items()}
        out[regime] = entry
    return out


def task_row(
    task: str, regime: str, budget: Budget, args: argparse.Namespace, runs_dir: Path, checkpoint_every: int
) -> dict[str, Any]:
    """Trains one (task, regime) and returns its row: the regime row of `run_regime`, the task, the settings it was
    trained under, the transfer gap (dm_control IQM minus the final MJX IQM) and the host load around it."""
    load_before = os.getloadavg()[0]
    row = run_regime(
        task,
        regime,
        budget,
        args.seeds,
        args.set,
        [],
        runs_dir / task,
        args.dm_control_episodes,
        checkpoint_every=checkpoint_every,
    )
    gap = None
    if row["dm_control"] is not None and row["final"] is not None:
        gap = row["dm_control"]["iqm"] - row["final"]["iqm"]
    return {
        "task": task,
        **row,
        "transfer_gap": gap,
        "settings": settings(args),
        "host_load_1min": [load_before, os.getloadavg()[0]],
    }


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that make two rows comparable (SETTING_KEYS)."""
    return {key: getattr(args, "set" if key == "overrides" else key) for key in SETTING_KEYS}


def result_path(name: str, out_dir: str | None) -> Path:
    """Where the suite's JSON goes (the PNG next to it)."""
    return Path(out_dir or RESULTS_DIR) / f"{name}_{device_name()}.json"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock beside `path` (processes filling one result take turns at reading and writing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stored_rows(path: Path) -> list[dict[str, Any]]:
    """The rows in the result file (none if there is no file yet)."""
    if not path.is_file():
        return []
    return json.loads(path.read_text())["results"]


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> Path:
    """Merges `rows` into the stored result (a row replaces the stored one of its task and regime), recomputes the
    published comparisons and the aggregate, and writes the JSON and the PNG."""
    path = result_path(args.name, args.out_dir)
    with locked(path):
        merged = {(r["task"], r["regime"]): r for r in stored_rows(path)}
        merged.update({(r["task"], r["regime"]): r for r in rows})
        algos = anchors.algorithms(args.anchors_dir)
        ordered = sorted(merged.values(), key=lambda r: (r["task"], r["regime"]))
        for row in ordered:
            row["published"] = published(row, algos, args.anchors_dir)
        payload = {
            "config": {"settings": settings(args), "anchors": algos},
            "results": ordered,
            "aggregate": aggregate(ordered, algos),
        }
        path = write_result(args.name, payload, path.parent)
        plot(ordered, payload["aggregate"], algos, path.with_suffix(".png"), args.anchors_dir)
    return path


def plot(
    rows: list[dict[str, Any]], agg: dict[str, Any], algos: Sequence[str], path: Path, root: Path | None = None
) -> Path:
    """One panel per task (our IQM bands per regime, the published mean curves) and an aggregate panel: per
    published algorithm, the mean of our per-task ratios to it (bars, one per regime) and each task's ratio (dots)."""
    plt = plotting.pyplot()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    cols = min(4, len(tasks) + 1)
    nrows = math.ceil((len(tasks) + 1) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.3 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax, task in zip(flat, tasks, strict=False):
        up_to = 0
        for k, regime in enumerate(regimes):
            row = next((r for r in rows if r["task"] == task and r["regime"] == regime), None)
            if row is None or not row["curve"]:
                continue
            c = row["curve"]
            x = [p["env_steps"] for p in c]
            label = f"ours: {regime} ({row['seeds']} seeds, IQM, 95% CI)"
            plotting.band(
                ax,
                x,
                [p["iqm"] for p in c],
                [p["iqm_ci_low"] for p in c],
                [p["iqm_ci_high"] for p in c],
                label,
                f"C{k}",
            )
            up_to = max(up_to, row["env_steps"])
        plotting.published(ax, task, algos, up_to, root)
        ax.set_title(task, fontsize=10)
        ax.set_ylim(0, 1000)
        plotting.steps_axis(ax)
        ax.grid(alpha=0.3)
    for ax in flat[: len(tasks)]:
        ax.set_xlabel("env steps", fontsize=8)
    summary = flat[len(tasks)]
    algos = [a for a in algos if any(a in entry["vs"] for entry in agg.values())]
    width = 0.8 / max(1, len(regimes))
    for k, regime in enumerate(regimes):
        vs = agg.get(regime, {}).get("vs", {})
        xs = [i for i, a in enumerate(algos) if a in vs]
        summary.bar(
            [i + k * width for i in xs], [vs[algos[i]]["ratio_mean"] or 0 for i in xs], width, color=f"C{k}", alpha=0.6
        )
        for i in xs:
            per_task = [
                r["published"][algos[i]]["final"]["ratio"]
                for r in rows
                if r["regime"] == regime and r["published"][algos[i]]["final"]
            ]
            summary.plot([i + k * width] * len(per_task), per_task, "k.", ms=4)
    summary.axhline(1.0, color="k", lw=0.8)
    summary.set_xticks([i + width * (len(regimes) - 1) / 2 for i in range(len(algos))])
    summary.set_xticklabels([anchors.LABELS.get(a, a) for a in algos], fontsize=7, rotation=20)
    summary.set_ylabel("ours / published at our final step", fontsize=8)
    summary.set_title("over tasks: mean ratio (bars), per task (dots)", fontsize=9)
    summary.grid(alpha=0.3, axis="y")
    for ax in flat[len(tasks) + 1 :]:
        ax.axis("off")
    return plotting.save_with_legend_below(fig, flat[0], path, columns=3)


def summary_table(rows: list[dict[str, Any]], agg: dict[str, Any], algos: Sequence[str]) -> str:
    """One line per row (final IQM [CI], dm_control, published means at the final step) and one per regime."""
    head = (
        f"{'task':24s} {'regime':28s} {'S':>2} {'env steps':>9} {'train s':>8} {'final IQM [95% CI]':>22} {'dm_c':>6}"
    )
    lines = [head + "".join(f" {anchors.LABELS.get(a, a)[:9]:>9s}" for a in algos)]
    for r in rows:
        f = r["final"]
        ci = f"{f['iqm']:.0f} [{f['iqm_ci_low']:.0f}, {f['iqm_ci_high']:.0f}]" if f else "-"
        dm = f"{r['dm_control']['iqm']:.0f}" if r["dm_control"] else "-"
        line = f"{r['task']:24s} {r['regime'][:28]:28s} {r['seeds']:>2} {r['env_steps']:>9d} {r['train_s']:8.0f}"
        line += f" {ci:>22s} {dm:>6s}"
        for a in algos:
            pub = r["published"][a]["final"]
            line += f" {pub['mean']:9.0f}" if pub else f" {'-':>9s}"
        lines.append(line)
    for regime, entry in agg.items():
        for a, v in entry["vs"].items():
            lines.append(
                f"{regime}: vs {anchors.LABELS.get(a, a)} on {len(v['tasks'])} tasks: ratio mean {v['ratio_mean']:.2f},"
                f" IQM {v['ratio_iqm']:.2f}; at or above on {v['at_or_above']}; mean return {v['mean_return']:.0f} vs"
                f" {v['published_mean_return']:.0f}"
            )
    return "\n".join(lines)


def markdown(payload: dict[str, Any], algos: Sequence[str] = ("sac", "tdmpc2", "dreamerv3")) -> str:
    """The README's tables from a suite JSON: per task and regime the final IQM [95% CI] at its env steps, the
    dm_control IQM, and the published means there; then per regime the aggregate against each algorithm."""
    names = [anchors.LABELS.get(a, a) for a in algos]
    lines = [
        "| task | regime | seeds | env steps | final IQM [95% CI] | in dm_control | " + " | ".join(names) + " |",
        "|---" * (6 + len(algos)) + "|",
    ]
    for r in payload["results"]:
        f = r["final"]
        dm = f"{r['dm_control']['iqm']:.0f}" if r["dm_control"] else "-"
        cells = []
        for a in algos:
            pub = r["published"].get(a, {}).get("final")
            cells.append(f"{pub['mean']:.0f}" if pub else "-")
        ci = f"{f['iqm']:.0f} [{f['iqm_ci_low']:.0f}, {f['iqm_ci_high']:.0f}]"
        lines.append(
            f"| {r['task']} | {r['regime']} | {r['seeds']} | {r['env_steps'] / 1000:g}k | {ci} | {dm} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "| regime | against | tasks | mean ratio | IQM ratio | tasks at or above | mean return (ours / theirs) |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for regime, entry in payload["aggregate"].items():
        for a, v in entry["vs"].items():
            if a not in algos:
                continue
            lines.append(
                f"| {regime} | {anchors.LABELS.get(a, a)} | {len(v['tasks'])} | {v['ratio_mean']:.2f} | "
                f"{v['ratio_iqm']:.2f} | {v['at_or_above']} | "
                f"{v['mean_return']:.0f} / {v['published_mean_return']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> Path:
    """Runs every (task, regime) not yet done, writing the JSON and PNG after each; prints the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["cpu-suite"], help="task names and/or groups")
    parser.add_argument("--regimes", nargs="+", default=["paper"], help="name[:key=value,...] per regime")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per regime (a regime's seeds=K overrides)")
    parser.add_argument("--env-steps", type=int, default=100_000, help="env-step budget per seed")
    parser.add_argument("--seconds", type=float, default=None, help="training-seconds budget per task and regime")
    parser.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    parser.add_argument("--dm-control-episodes", type=int, default=5, help="per seed, final policy; 0 skips")
    parser.add_argument("--set", nargs="*", default=[], help="overrides applied to every iQRL regime")
    parser.add_argument("--name", default="suite", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--runs-dir", type=Path, default=None, help="run folders (default runs/suite/<name>)")
    parser.add_argument("--checkpoint-every", type=int, default=20_000, help="env steps; 0: runs are not resumable")
    parser.add_argument("--anchors-dir", type=Path, default=None, help="published curves (default benchmarks/anchors)")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in the JSON, run the others")
    parser.add_argument("--markdown", type=Path, default=None, help="print the tables of this suite JSON and exit")
    args = parser.parse_args(argv)
    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text())))
        return args.markdown
    tasks = expand_tasks(args.tasks)
    for text in args.regimes:
        parse_regime(text)  # a malformed regime fails before anything trains
    if args.seeds < 1 or args.env_steps < 1 or args.eval_every < 1:
        parser.error("--seeds, --env-steps and --eval-every must be positive")
    anchors.algorithms(args.anchors_dir)
    budget = Budget(env_steps=args.env_steps, seconds=args.seconds, eval_every=args.eval_every)
    runs_dir = args.runs_dir or Path("runs") / "suite" / args.name
    path = result_path(args.name, args.out_dir)
    if not args.resume and path.is_file():
        raise SystemExit(f"{path} exists: pass --resume to continue it, or another --name")
    done = {(r["task"], r["regime"]) for r in stored_rows(path) if r.get("settings") == settings(args)}
    for task in tasks:
        for regime in args.regimes:
            if (task, regime) in done:
                continue
            row = task_row(task, regime, budget, args, runs_dir, args.checkpoint_every)
            path = write([row], args)
            print(f"{task} {regime}: final IQM {row['final']['iqm'] if row['final'] else float('nan'):.1f}", flush=True)
    path = write([], args)
    payload = json.loads(path.read_text())
    print(summary_table(payload["results"], payload["aggregate"], payload["config"]["anchors"]))
    print(f"wrote {path}\nwrote {path.with_suffix('.png')}")
    return path


if __name__ == "__main__":
    main()
