"""Published learning curves (the field's anchors), read from CSV files: per algorithm and task, the mean and
per-seed returns at a given env step.

The curves are data, not code: `benchmarks/anchors/<algo>.csv` (columns task, env_steps, seed, return; their
sources, commits, licences and protocol are in that folder's README). Env steps count action repeat, as ours do.
Between two points of a seed's curve the return is interpolated linearly; a step outside a seed's curve has no
value for that seed. Both the `mjx_iqrl.plot` command and the benchmarks read them through this module.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mjx_iqrl.errors import ConfigError

ANCHORS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "anchors"
"""Where the curves live in a checkout of this repository."""

LABELS = {
    "tdmpc2": "TD-MPC2",
    "sac": "SAC",
    "dreamerv3": "DreamerV3",
    "tdmpc": "TD-MPC",
    "iqrl": "iQRL (authors)",
}
"""Display names of the algorithms whose curves ship with the repository."""


class Curve(NamedTuple):
    """One algorithm's published curve on one task."""

    seeds: dict[int, tuple[np.ndarray, np.ndarray]]
    """Per seed: env steps (increasing) and returns at them."""

    @property
    def steps(self) -> np.ndarray:
        """Every env step at which some seed was evaluated, sorted."""
        return np.unique(np.concatenate([s for s, _ in self.seeds.values()]))


class Point(NamedTuple):
    """Published returns at one env step."""

    mean: float
    """Mean over the seeds that have a value there."""
    per_seed: dict[int, float]


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else ANCHORS_DIR


def algorithms(root: str | Path | None = None) -> list[str]:
    """The algorithms with a curve file in `root` (default ANCHORS_DIR), sorted."""
    return sorted(p.stem for p in _root(root).glob("*.csv"))


@functools.cache
def _read(path: Path) -> dict[str, Curve]:
    raw: dict[str, dict[int, list[tuple[int, float]]]] = {}
    with path.open(newline="") as f:
        for rec in csv.DictReader(f):
            raw.setdefault(rec["task"], {}).setdefault(int(rec["seed"]), []).append(
                (int(rec["env_steps"]), float(rec["return"]))
            )
    curves = {}
    for task, seeds in raw.items():
        arrays = {}
        for seed, points in seeds.items():
            points.sort()
            arrays[seed] = (np.array([p[0] for p in points]), np.array([p[1] for p in points]))
        curves[task] = Curve(seeds=arrays)
    return curves


def load(algo: str, root: str | Path | None = None) -> dict[str, Curve]:
    """Every task's curve of `algo`; ConfigError (one line, naming the known ones) for an unknown algorithm."""
    path = _root(root) / f"{algo}.csv"
    if not path.is_file():
        known = ", ".join(algorithms(root)) or "none"
        raise ConfigError(f"no published curves for {algo!r} in {_root(root)} (known: {known})")
    return _read(path.resolve())


def curve(algo: str, task: str, root: str | Path | None = None) -> Curve | None:
    """`algo`'s curve on `task`, or None where it was not published for that task."""
    return load(algo, root).get(task)


def at(algo: str, task: str, env_steps: float, root: str | Path | None = None) -> Point | None:
    """`algo`'s returns on `task` at `env_steps` (linear between a seed's points); None where no seed covers it."""
    found = curve(algo, task, root)
    if found is None:
        return None
    per_seed = {
        seed: float(np.interp(env_steps, steps, returns))
        for seed, (steps, returns) in found.seeds.items()
        if steps[0] <= env_steps <= steps[-1]
    }
    if not per_seed:
        return None
    return Point(mean=float(np.mean(list(per_seed.values()))), per_seed=per_seed)


def mean_curve(algo: str, task: str, up_to: float, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`algo`'s mean return on `task` at each of its published env steps up to `up_to`, and at `up_to` itself
    (interpolated) where a seed's curve covers it; empty arrays where it was not published."""
    found = curve(algo, task, root)
    if found is None:
        return np.zeros(0), np.zeros(0)
    steps = [float(s) for s in found.steps if s <= up_to]
    if up_to not in steps:
        steps.append(float(up_to))
    points = [(s, point.mean) for s in steps if (point := at(algo, task, s, root)) is not None]
    return np.array([s for s, _ in points]), np.array([m for _, m in points])
