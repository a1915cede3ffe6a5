"""Rebuilds the published-curve extracts in this folder from checkouts of their source repositories.

    python benchmarks/anchors/extract.py --tdmpc2 PATH/TO/tdmpc2 --simbav2 PATH/TO/SimbaV2

Each source is read at the commit recorded in README.md (`git show <commit>:<path>`), keeping the DMC state tasks
that `envs` ports, evaluation points up to MAX_ENV_STEPS env steps, and writing one CSV per algorithm with the
columns task, env_steps, seed, return. The checkouts may be bare repositories (no work tree needed).
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

TDMPC2_COMMIT = "e9f59321933cbc8e11a002b842adc7d4ffae8ff1"
TDMPC2_ALGOS = ("tdmpc2", "sac", "dreamerv3", "tdmpc")
SIMBAV2_COMMIT = "769e36bbae3b9af23ce5c52af0d5eb6de88ab4ce"
MAX_ENV_STEPS = 1_000_000


def _show(repo: Path, commit: str, path: str) -> str | None:
    """A file's text at `commit`, or None where the commit does not have it."""
    out = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def _write(algo: str, rows: list[tuple[str, int, int, float]]) -> None:
    rows = sorted(set(rows))
    with (HERE / f"{algo}.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["task", "env_steps", "seed", "return"])
        writer.writerows((t, s, seed, f"{r:.1f}") for t, s, seed, r in rows)
    print(f"{algo}: {len({r[0] for r in rows})} tasks, {len(rows)} points")


def main() -> None:
    """Writes tdmpc2.csv, sac.csv, dreamerv3.csv, tdmpc.csv and iqrl.csv."""
    import envs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tdmpc2", type=Path, required=True, help="a clone of github.com/nicklashansen/tdmpc2")
    parser.add_argument("--simbav2", type=Path, required=True, help="a clone of github.com/dojeon-ai/SimbaV2")
    args = parser.parse_args()
    tasks = envs.list_tasks()
    for algo in TDMPC2_ALGOS:
        rows = []
        for task in tasks:
            text = _show(args.tdmpc2, TDMPC2_COMMIT, f"results/{algo}/{task}.csv")
            for rec in csv.DictReader(io.StringIO(text or "")):
                step = int(float(rec["step"]))
                if step <= MAX_ENV_STEPS:
                    rows.append((task, step, int(rec["seed"]), float(rec["reward"])))
        _write(algo, rows)
    text = _show(args.simbav2, SIMBAV2_COMMIT, "results/baseline/iqrl.csv") or ""
    rows = [
        (rec["env_name"], int(float(rec["env_step"])), int(rec["seed"]), float(rec["value"]))
        for rec in csv.DictReader(io.StringIO(text))
        if rec["metric"] == "avg_return" and rec["env_name"] in tasks and int(float(rec["env_step"])) <= MAX_ENV_STEPS
    ]
    _write("iqrl", rows)


if __name__ == "__main__":
    main()
