"""Env steps per second against the number of parallel envs, per task and physics profile, next to the physics limit.

For each task, profile and `num_envs`, times a jitted `lax.scan` of `--steps` control steps of the vmapped task
(`env.step`: physics sub-steps, observation, reward) and, on the same model, a raw jitted `vmap(mjx.step)` doing the
same number of physics sub-steps (the physics limit, no task code). Rates are control (env) steps per second summed
over envs; `ratio` is task over raw. Compilation is timed separately. Sizes that exhaust memory are recorded as
`oom` and larger sizes are skipped.

    python benchmarks/env_throughput.py --tasks cheetah-run --num-envs 1 64 1024
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import envs
from benchmarks.common import write_result

with contextlib.redirect_stdout(io.StringIO()):
    from mujoco import mjx

GPU_NUM_ENVS = [1, 16, 256, 1024, 4096, 16384]
CPU_NUM_ENVS = [1, 16, 128]


def _time_calls(fn, arg, repeats: int) -> tuple[float, list[float]]:
    """Compile time of the first call, then wall times of `repeats` further calls."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(arg))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - t0)
    return compile_s, times


def measure(
    task: str, profile: str, num_envs: int, steps: int, repeats: int, matmul_precision: str = "highest"
) -> dict:
    """Env and raw-physics throughput of one (task, profile, num_envs), both at `matmul_precision`."""
    env = envs.make(task, physics=profile, matmul_precision=matmul_precision)
    low, high = env.action_bounds
    actions = jnp.asarray(np.random.default_rng(0).uniform(low, high, (num_envs, env.action_size)), jnp.float32)
    reset = jax.jit(jax.vmap(env.reset))
    state = reset(jax.random.split(jax.random.key(0), num_envs))

    @jax.jit
    def run_env(s):
        step = jax.vmap(env.step)
        return jax.lax.scan(lambda c, _: (step(c, actions), None), s, None, length=steps)[0].obs

    model = env.mjx_model
    data = state.pipeline_state.replace(ctrl=actions)

    @jax.jit
    def run_raw(d):
        step = jax.vmap(lambda x: mjx.step(model, x))
        with env.precision():
            return jax.lax.scan(lambda c, _: (step(c), None), d, None, length=steps * env.n_substeps)[0].qpos

    row = {
        "task": task,
        "profile": profile,
        "num_envs": num_envs,
        "steps_per_call": steps,
        "precision": matmul_precision,
    }
    for name, fn, arg in (("env", run_env, state), ("raw", run_raw, data)):
        compile_s, times = _time_calls(fn, arg, repeats)
        row[f"{name}_compile_s"] = round(compile_s, 3)
        row[f"{name}_steps_per_s"] = num_envs * steps / statistics.median(times)
    row["ratio"] = row["env_steps_per_s"] / row["raw_steps_per_s"]
    return row


def _is_oom(err: Exception) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def main(argv: list[str] | None = None) -> None:
    """Runs the sweep, prints the table and writes JSON (and a PNG) under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks to measure (default: all registered)")
    parser.add_argument("--profiles", nargs="+", default=["dmc", "fast"], choices=["dmc", "fast"])
    parser.add_argument(
        "--num-envs", nargs="+", type=int, default=None, help="env counts (default: 1..16384 on GPU, 1..128 on CPU)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="control steps per timed call (default 100 GPU, 20 CPU)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median reported)")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)

    on_cpu = jax.default_backend() == "cpu"
    tasks = args.tasks or envs.list_tasks()
    for task in tasks:
        envs.resolve(task)
    num_envs = args.num_envs or (CPU_NUM_ENVS if on_cpu else GPU_NUM_ENVS)
    steps = args.steps or (20 if on_cpu else 100)

    config = {"tasks": tasks, "profiles": args.profiles, "num_envs": num_envs, "steps": steps, "repeats": args.repeats}
    rows = []
    header = f"{'task':24s} {'profile':7s} {'envs':>6s} {'env steps/s':>12s} {'raw steps/s':>12s} {'ratio':>6s}"
    print(header, flush=True)
    for task in tasks:
        for profile in args.profiles:
            for n in num_envs:
                try:
                    row = measure(task, profile, n, steps, args.repeats)
                except Exception as err:  # an out-of-memory size ends this sweep
                    if not _is_oom(err):
                        raise
                    rows.append({"task": task, "profile": profile, "num_envs": n, "oom": True})
                    print(f"{task:24s} {profile:7s} {n:6d} {'oom':>12s}", flush=True)
                    break
                rows.append(row)
                print(
                    f"{task:24s} {profile:7s} {n:6d} {row['env_steps_per_s']:12.0f} {row['raw_steps_per_s']:12.0f}"
                    f" {row['ratio']:6.2f}",
                    flush=True,
                )
        # Written after every task, so that an interrupted sweep keeps what it measured.
        path = write_result("env_throughput", {"config": config, "results": rows}, args.out_dir)
    print(f"wrote {path}")
    if not args.no_plot:
        print(f"wrote {plot(rows, path.with_suffix('.png'))}")


def plot(rows: list[dict], path: Path) -> Path:
    """Log-log steps/s against num_envs: one panel per task, a line per profile, dashed the raw physics limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    cols = min(4, len(tasks))
    n_rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(4 * cols, 3.2 * n_rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for profile, color in (("dmc", "tab:blue"), ("fast", "tab:orange")):
            pts = [r for r in rows if r["task"] == task and r["profile"] == profile and not r.get("oom")]
            if not pts:
                continue
            n = [r["num_envs"] for r in pts]
            ax.plot(n, [r["env_steps_per_s"] for r in pts], "o-", color=color, label=f"{profile}")
            ax.plot(n, [r["raw_steps_per_s"] for r in pts], "--", color=color, alpha=0.6, label=f"{profile} raw mjx")
        ax.set(xscale="log", yscale="log", title=task, xlabel="num_envs", ylabel="env steps / s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
