"""Plot runs and sweeps: `python -m mjx_iqrl.plot PATH... --out FIG.png`.

PATH is a run folder (`runs/<task>/<run>`, also one with `num_seeds=S`), or a folder of runs (a hydra `--multirun`
folder). Runs that differ only in seed are one configuration: its curve is the IQM over all its seeds with
rliable's stratified-bootstrap 95% CI band. Two panels: evaluation return against env steps and against training
seconds (compilation and evaluation excluded). `--anchors sac,tdmpc2` overlays published mean curves of the task
(`benchmarks/anchors/`), `--dm-control` the final policies' returns in real dm_control where the runs have them.
A table follows on the console: per configuration, the final IQM [95% CI], and the env steps and seconds at which
the IQM first reached each `--thresholds` value.

    python -m mjx_iqrl.plot runs/multirun/2026-12-01_10-00-00 --out sweep.png --anchors sac,tdmpc2
    python -m mjx_iqrl.plot runs/cheetah-run/run_a runs/cheetah-run/run_b --out ab.png --thresholds 500 800
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mjx_iqrl import anchors, curves, plotting
from mjx_iqrl.errors import ConfigError

DEFAULT_THRESHOLDS = (500.0, 800.0)


def load_groups(paths: Sequence[str | Path], allow_mixed: bool = False) -> list[curves.Group]:
    """The configurations of the runs under `paths`; ConfigError (one line) for runs of several tasks unless
    `allow_mixed`, or for runs without evaluations."""
    runs = [curves.read_run(p) for p in curves.run_folders(paths)]
    empty = [r.path for r in runs if not r.env_steps]
    if empty:
        raise ConfigError(f"{empty[0]} has no evaluation in its metrics.jsonl yet")
    tasks = sorted({r.task for r in runs})
    if len(tasks) > 1 and not allow_mixed:
        raise ConfigError(
            f"the runs are of several tasks ({', '.join(tasks)}); pass --allow-mixed to plot them together"
        )
    return curves.group_runs(runs)


def table(groups: Sequence[curves.Group], names: Sequence[str], thresholds: Sequence[float]) -> str:
    """Per configuration: seeds, final env steps, final IQM [95% CI], and env steps / seconds to each threshold."""
    width = max([len("configuration"), *(len(n) for n in names)])
    head = f"{'configuration':{width}s}  {'env steps':>9s}  {'final IQM [95% CI]':>22s}"
    lines = [head + "".join(f"  {'to ' + format(t, 'g'):>18s}" for t in thresholds)]
    for group, name in zip(groups, names, strict=True):
        last = group.points[-1]
        final = f"{last['iqm']:.1f} [{last['iqm_ci_low']:.1f}, {last['iqm_ci_high']:.1f}]"
        line = f"{name:{width}s}  {last['env_steps']:>9d}  {final:>22s}"
        for t in thresholds:
            hit = curves.time_to_reach(group.points, t)
            text = f"{hit['env_steps']} / {hit['train_s']:.0f} s" if hit else "not reached"
            line += f"  {text:>18s}"
        lines.append(line)
    return "\n".join(lines)


def figure(
    groups: Sequence[curves.Group],
    names: Sequence[str],
    out: Path,
    algos: Sequence[str] = (),
    dm_control: bool = False,
) -> Path:
    """Return against env steps and against training seconds, one IQM band per configuration; published curves
    and dm_control returns on the env-steps panel."""
    plt = plotting.pyplot()
    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(12, 4.6))
    plotting.learning_panels(by_steps, by_time, [(n, g.points) for g, n in zip(groups, names, strict=True)])
    for k, (group, name) in enumerate(zip(groups, names, strict=True)):
        finals = [x for r in group.runs if r.dm_control for x in r.dm_control]
        if dm_control and finals:
            steps = [group.points[-1]["env_steps"]] * len(finals)
            by_steps.plot(steps, finals, "D", ms=5, mfc="none", color=f"C{k % 10}", label=f"{name}: dm_control, final")
    for task in dict.fromkeys(g.task for g in groups):
        up_to = max(g.points[-1]["env_steps"] for g in groups if g.task == task)
        plotting.published(by_steps, task, algos, up_to)
    by_steps.set_title(", ".join(dict.fromkeys(g.task for g in groups)))
    by_time.set_title("against wall-clock")
    out.parent.mkdir(parents=True, exist_ok=True)
    return plotting.save_with_legend_below(fig, by_steps, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses arguments, prints the table and writes the figure; bad input is one line and exit status 2."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="run folders, or folders of runs (multirun)")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--anchors", default="", help=f"published curves to overlay: {','.join(anchors.algorithms())}")
    parser.add_argument("--dm-control", action="store_true", help="mark the final policies' dm_control returns")
    parser.add_argument("--thresholds", type=float, nargs="*", default=list(DEFAULT_THRESHOLDS))
    parser.add_argument("--allow-mixed", action="store_true", help="allow runs of several tasks in one figure")
    args = parser.parse_args(argv)
    algos = [a for a in args.anchors.split(",") if a]
    try:
        for algo in algos:
            anchors.load(algo)
        groups = load_groups(args.paths, args.allow_mixed)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = curves.labels(groups)
    print(table(groups, names, args.thresholds))
    print(f"wrote {figure(groups, names, args.out, algos, args.dm_control)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
