"""Plotting of learning curves, shared by the `mjx_iqrl.plot` command and the benchmarks: IQM bands over seeds,
published mean curves, env-step axes and a legend that covers no curve. matplotlib is imported when a figure is
made, never at import time, and always with the file-only Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mjx_iqrl import anchors


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def band(
    ax: Any,
    x: Sequence[float],
    iqm: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    label: str | None = None,
    color: Any = None,
) -> Any:
    """A curve of IQMs with its 95% CI as a shaded band; returns the line."""
    (line,) = ax.plot(x, iqm, "o-", ms=3, label=label, color=color)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15, lw=0)
    return line


def learning_panels(by_steps: Any, by_time: Any, series: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> None:
    """Return against env steps and against training seconds, one IQM band (95% CI) per (label, points); points
    carry env_steps, train_s, iqm, iqm_ci_low and iqm_ci_high (`mjx_iqrl.curves.with_iqm`)."""
    for k, (label, points) in enumerate(series):
        iqm = [p["iqm"] for p in points]
        low, high = [p["iqm_ci_low"] for p in points], [p["iqm_ci_high"] for p in points]
        band(by_steps, [p["env_steps"] for p in points], iqm, low, high, label, f"C{k % 10}")
        band(by_time, [p["train_s"] for p in points], iqm, low, high, None, f"C{k % 10}")
    by_steps.set(xlabel="env steps", ylabel="evaluation return (IQM over seeds, 95% CI)")
    by_time.set(xlabel="training seconds (compilation and evaluation excluded)", ylabel="evaluation return (IQM)")
    steps_axis(by_steps)
    for ax in (by_steps, by_time):
        ax.grid(alpha=0.3)


def published(ax: Any, task: str, algos: Sequence[str], up_to: float, root: str | Path | None = None) -> None:
    """Each algorithm's published mean curve on `task` up to `up_to` env steps, dashed, in a fixed colour each."""
    for algo in algos:
        steps, means = anchors.mean_curve(algo, task, up_to, root)
        if len(steps):
            ax.plot(steps, means, "x--", ms=4, lw=1.2, color=anchor_color(algo), label=anchors.LABELS.get(algo, algo))


def anchor_color(algo: str) -> str:
    """A colour per published algorithm, the same in every panel and figure."""
    palette = {"tdmpc2": "0.15", "sac": "tab:brown", "dreamerv3": "tab:olive", "tdmpc": "tab:gray", "iqrl": "tab:pink"}
    return palette.get(algo, "0.5")


def steps_axis(ax: Any) -> None:
    """Env-step ticks in engineering notation (50k, 1M), which stay readable at millions of steps."""
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


def save_with_legend_below(fig: Any, ax: Any, path: Path, columns: int = 2) -> Path:
    """Saves `fig` (dpi 110) with the legend of `ax` (and of the figure's other axes, without repeats) below the
    panels, where it covers no curve, and closes it."""
    plt = pyplot()
    entries: dict[str, Any] = {}
    for axis in [ax, *(a for a in fig.axes if a is not ax)]:
        for handle, text in zip(*axis.get_legend_handles_labels(), strict=True):
            entries.setdefault(text, handle)
    rows = -(-len(entries) // columns)
    fig.legend(list(entries.values()), list(entries), loc="lower center", ncol=columns, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, (0.16 * rows + 0.05) / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
