"""Seeds per program: total and per-seed env steps and updates per second against the number of vmapped seeds S.

For each S (1, 2, 4, ... by default, until memory runs out), builds the S-seed training program, compiles it, runs
the warm-up chunks untimed, then times `--chunks` learning chunks. Reports totals, per-seed rates and the ratio of
the total to S = 1 (the speed-up from training seeds together instead of one after another).

    python benchmarks/seed_scaling.py --task cheetah-run --seeds 1 2 4 8 16 32
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_result
from benchmarks.env_throughput import _is_oom
from mjx_iqrl import config
from mjx_iqrl.runner import compile_run, seed_keys


def measure(overrides: list[str], num_seeds: int, chunks: int) -> dict:
    """Compile time and steady-state rates of the S-seed program. The compile time is this call's own: 0 when the
    program was compiled earlier in this process (`compile_run` reuses it)."""
    cfg = config.compose([*overrides, f"num_seeds={num_seeds}"])
    compiled = compile_run(cfg)
    compiled_before = compiled.compile_s
    derived = compiled.trainer.derived
    chunk = compiled.chunk_executable()
    state = compiled.init_executable()(seed_keys(cfg))
    for _ in range(math.ceil(derived.warmup_vector_steps / derived.vector_steps_per_chunk)):
        state, metrics = chunk(state)
    jax.block_until_ready(metrics)
    updates = 0.0
    t0 = time.perf_counter()
    for _ in range(chunks):
        state, metrics = chunk(state)
        updates += float(jax.device_get(metrics["train/updates_in_chunk"]).sum())
    seconds = time.perf_counter() - t0
    env_steps = num_seeds * derived.env_steps_per_chunk * chunks
    return {
        "num_seeds": num_seeds,
        "compile_s": compiled.compile_s - compiled_before,
        "env_steps_per_s": env_steps / seconds,
        "updates_per_s": updates / seconds,
        "env_steps_per_s_per_seed": env_steps / seconds / num_seeds,
        "updates_per_s_per_seed": updates / seconds / num_seeds,
    }


def main(argv: list[str] | None = None) -> None:
    """Runs the sweep over S, prints a table, writes JSON and a PNG under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks per S")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides (e.g. train.chunk_env_steps=2000)")
    parser.add_argument("--name", default="seed_scaling", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    overrides = [f"task={args.task}", f"preset={args.preset}", "logger.progress=false", *args.set]

    rows = []
    header = ("S", "compile s", "env steps/s", "per seed", "updates/s", "per seed", "x S=1")
    print("{:>4s} {:>9s} {:>12s} {:>10s} {:>10s} {:>9s} {:>6s}".format(*header))
    for s in args.seeds:
        try:
            row = measure(overrides, s, args.chunks)
        except Exception as err:  # an out-of-memory S ends the sweep
            if not _is_oom(err):
                raise
            rows.append({"num_seeds": s, "oom": True})
            print(f"{s:4d} out of memory")
            break
        row["total_ratio_to_1"] = row["env_steps_per_s"] / rows[0]["env_steps_per_s"] if rows else 1.0
        rows.append(row)
        print(
            f"{s:4d} {row['compile_s']:9.1f} {row['env_steps_per_s']:12.0f} {row['env_steps_per_s_per_seed']:10.0f} "
            f"{row['updates_per_s']:10.1f} {row['updates_per_s_per_seed']:9.1f} {row['total_ratio_to_1']:6.2f}",
            flush=True,
        )
    payload = {"config": {"overrides": overrides, "seeds": args.seeds, "chunks": args.chunks}, "results": rows}
    path = write_result(args.name, payload, args.out_dir)
    print(f"wrote {path}\nwrote {plot(rows, path.with_suffix('.png'))}")


def plot(rows: list[dict], path: Path) -> Path:
    """Total and per-seed env steps per second against S (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if not r.get("oom")]
    s = [r["num_seeds"] for r in ok]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(s, [r["env_steps_per_s"] for r in ok], "o-", label="total env steps / s")
    ax.plot(s, [r["env_steps_per_s_per_seed"] for r in ok], "s--", label="per seed")
    ax.set(xscale="log", yscale="log", xlabel="seeds in one program", ylabel="env steps / s (learning)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
