"""The sample-vs-time frontier of one task: a grid of regimes, S seeds each, return vs env steps and vs seconds.

Each regime (`benchmarks/regimes.py`: an iQRL preset with overrides, or a brax baseline) trains with S seeds (iQRL:
vmapped in one program) to a common budget of env steps and/or training seconds. Per regime the benchmark records
compile and training seconds, the IQM over seeds of the evaluation return (rliable 95% CIs) against env steps and
against training seconds, the env steps and seconds to reach each threshold, the final IQM, the replay ratio
(updates x batch / transitions collected), env steps/s and updates/s, and the final policies' return in real
dm_control next to their MJX return (what training on MJX, and on the `fast` physics, costs in dm_control).

The JSON and the PNG are rewritten after every regime, so an interrupted run keeps what finished; `--resume` keeps
the listed regimes already in the JSON (same budget and settings) and runs the others. The PNG has three panels:
return vs env steps, return vs training seconds, and the frontier (env steps to a threshold against seconds to it),
the Pareto-optimal regimes marked and labelled.

    python benchmarks/frontier.py --task cheetah-run --seeds 4 --env-steps 1000000 --seconds 900
    python benchmarks/frontier.py --task cartpole-swingup --seeds 2 --env-steps 200000 --seconds 900 \\
        --regimes paper "fast:train.num_envs=256" --set agent.latent_dim=32 "agent.mlp_dims=[64,64]"
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finished_rows, run_settings, write_result
from benchmarks.regimes import Budget, parse_regime, run_regime
from mjx_iqrl import plotting

DEFAULT_REGIMES = [
    "paper",
    "balanced",
    "fast",
    "fast:train.num_envs=1024,train.utd_ratio=0.03125",
    "fast:train.num_envs=4096,train.utd_ratio=0.0078125,train.batch_size=1024",
    # Knobs that trade an update's cost for samples: a world-model step every 2nd update, 2 critics instead of 5, a
    # 3-step latent rollout instead of 5, 4x the batch at a quarter of the updates (what brax's SAC does), and
    # brax's observation normalisation. (iQRL's critics have layer norm already.)
    "fast:agent.enc_update_freq=2",
    "fast:agent.num_critics=2",
    "fast:agent.horizon=3",
    "fast:train.batch_size=1024,train.utd_ratio=0.0625",
    "fast:agent.normalize_observations=true",
]
DEFAULT_THRESHOLDS = (500.0, 700.0, 800.0)


def pareto(points: dict[str, tuple[float, float]]) -> list[str]:
    """The labels whose (env steps, seconds) no other point beats in both (ties kept), sorted by env steps."""
    front = [
        label
        for label, (x, y) in points.items()
        if not any((a <= x and b <= y) and (a < x or b < y) for other, (a, b) in points.items() if other != label)
    ]
    return sorted(front, key=lambda label: points[label])


def frontier_threshold(rows: list[dict[str, Any]], thresholds: Sequence[float]) -> float | None:
    """The highest threshold that at least two regimes reached (or one, if only one ever reached any)."""
    for need in (2, 1):
        for t in sorted(thresholds, reverse=True):
            if sum(r["time_to"].get(f"{t:g}") is not None for r in rows) >= need:
                return t
    return None


def frontier(rows: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    """Env steps and seconds to `threshold` per regime that reached it, and which of them are Pareto-optimal."""
    if threshold is None:
        return {"threshold": None, "points": {}, "pareto": []}
    key = f"{threshold:g}"
    points = {
        r["regime"]: (r["time_to"][key]["env_steps"], r["time_to"][key]["train_s"])
        for r in rows
        if r["time_to"].get(key)
    }
    return {"threshold": threshold, "points": {k: list(v) for k, v in points.items()}, "pareto": pareto(points)}


def label(row: dict[str, Any]) -> str:
    """A short legend entry: the regime and its sizes."""
    if row["algo"] == "iqrl":
        sizes = f"{row['num_envs']} envs, B {row['batch_size']}, {row['updates_per_agent_step']:g} upd/step"
        return f"{row['regime']} ({sizes})"
    return f"{row['regime']} ({row['num_envs']} envs)"


def plot(rows: list[dict[str, Any]], front: dict[str, Any], task: str, path: Path) -> Path:
    """Three panels: IQM return vs env steps and vs training seconds (95% CI bands), and the frontier."""
    fig, (by_steps, by_time, panel) = plotting.pyplot().subplots(1, 3, figsize=(17, 4.8))
    plotting.learning_panels(by_steps, by_time, [(label(row), row["curve"]) for row in rows])
    seeds = sorted({r["seeds"] for r in rows})
    by_steps.set_ylabel(f"evaluation return (IQM, {'/'.join(map(str, seeds))} seeds)")
    by_steps.set_title(f"{task}: sample efficiency")
    by_time.set_title("wall-clock efficiency")
    threshold = front["threshold"]
    points = front["points"]
    for name, (steps, secs) in points.items():
        optimal = name in front["pareto"]
        panel.plot(steps, secs, "*" if optimal else "o", ms=13 if optimal else 7, color="C3" if optimal else "C0")
        panel.annotate(name, (steps, secs), fontsize=7, xytext=(4, 4), textcoords="offset points")
    if front["pareto"]:
        xy = [points[n] for n in front["pareto"]]
        panel.plot([p[0] for p in xy], [p[1] for p in xy], "--", color="C3", lw=1, label="Pareto front")
        panel.legend(fontsize=7)
    panel.set(xscale="log", yscale="log", xlabel="env steps to threshold", ylabel="training seconds to threshold")
    panel.set_title(
        f"frontier: IQM return >= {threshold:g}" if threshold is not None else "frontier: no threshold reached"
    )
    panel.margins(x=0.35, y=0.1)
    panel.grid(alpha=0.3)
    return plotting.save_with_legend_below(fig, by_steps, path)


def summary_table(rows: list[dict[str, Any]], thresholds: Sequence[float]) -> str:
    """One line per regime: sizes, timings, final IQM (MJX and dm_control) and time to each threshold."""
    head = f"{'regime':52s} {'S':>2} {'compile':>8} {'train':>8} {'env steps':>10} {'final IQM':>9} {'dm_control':>10}"
    lines = [head + "".join(f"  {'>=' + format(t, 'g'):>20s}" for t in thresholds)]
    for r in rows:
        final = r["final"]["iqm"] if r["final"] else float("nan")
        dm = r["dm_control"]["iqm"] if r["dm_control"] else float("nan")
        line = (
            f"{r['regime'][:52]:52s} {r['seeds']:>2} {r['compile_s']:7.0f}s {r['train_s']:7.0f}s {r['env_steps']:>10d}"
        )
        line += f" {final:9.1f} {dm:10.1f}"
        for t in thresholds:
            hit = r["time_to"].get(f"{t:g}")
            text = f"{hit['env_steps']} / {hit['train_s']:.0f}s" if hit else "not reached"
            line += f"  {text:>20s}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> Path:
    """Runs the grid, writing JSON and PNG after each regime; prints a summary table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run")
    parser.add_argument("--regimes", nargs="+", default=DEFAULT_REGIMES, help="name[:key=value,...] per regime")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per regime (a regime's seeds=K overrides)")
    parser.add_argument("--env-steps", type=int, default=1_000_000, help="env-step budget per seed")
    parser.add_argument("--seconds", type=float, default=None, help="training-seconds budget per regime")
    parser.add_argument("--eval-every", type=int, default=20_000, help="env steps between evaluations")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS))
    parser.add_argument("--frontier-threshold", type=float, default=None, help="default: highest reached by two")
    parser.add_argument("--dm-control-episodes", type=int, default=2, help="per seed, final policy; 0 skips")
    parser.add_argument("--set", nargs="*", default=[], help="overrides applied to every iQRL regime")
    parser.add_argument("--name", default="frontier", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument(
        "--resume", action="store_true", help="keep the listed regimes already in the result JSON, run the others"
    )
    args = parser.parse_args(argv)
    for text in args.regimes:
        parse_regime(text)  # a malformed regime fails before anything trains
    if args.seeds < 1 or args.env_steps < 1 or args.eval_every < 1:
        parser.error("--seeds, --env-steps and --eval-every must be positive")

    budget = Budget(env_steps=args.env_steps, seconds=args.seconds, eval_every=args.eval_every)
    settings = run_settings(args, thresholds=args.thresholds, dm_control_episodes=args.dm_control_episodes)
    rows = finished_rows(args.name, settings, args.regimes, args.out_dir) if args.resume else []
    done = {r["regime"] for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for text in args.regimes:
            if text in done:
                continue
            row = run_regime(
                args.task, text, budget, args.seeds, args.set, args.thresholds, Path(tmp), args.dm_control_episodes
            )
            rows.append(row)
            print(summary_table([row], args.thresholds).splitlines()[1], flush=True)
            _write(rows, settings, args)
    path = _write(rows, settings, args)
    print(summary_table(rows, args.thresholds))
    print(f"wrote {path}\nwrote {path.with_suffix('.png')}")
    return path


def _write(rows: list[dict[str, Any]], settings: dict[str, Any], args: argparse.Namespace) -> Path:
    threshold = (
        args.frontier_threshold if args.frontier_threshold is not None else frontier_threshold(rows, args.thresholds)
    )
    front = frontier(rows, threshold)
    path = write_result(args.name, {"config": settings, "results": rows, "frontier": front}, args.out_dir)
    plot(rows, front, args.task, path.with_suffix(".png"))
    return path


if __name__ == "__main__":
    main()
