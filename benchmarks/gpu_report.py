"""Every headline figure of the trainer on one accelerator, from one command that fits a short device lease.

    python benchmarks/gpu_report.py --budget-s 480 --out DIR
    python benchmarks/gpu_report.py --smoke --out DIR        # every part at tiny sizes on CPU (about 2 minutes)

Within the budget, compilation included, the parts run most valuable first (`benchmarks/report_parts.py`):
  1. env_throughput: cheetah-run, both physics profiles, num_envs 256 to 16384, next to raw vmap(mjx.step);
  2. update_throughput: the paper-size update loop at batch 256, 4096, 1024, 8192;
  3. fast_training: cheetah-run with preset=fast for its share of the budget: time to 500 and 800, the final
     return, and the final policy in real dm_control (or exported to a file for `python -m mjx_iqrl.evaluate`
     where dm_control's Python package is not installed);
  4. seed_scaling: the paper protocol (1 env, utd 1) with 1, 8, 32, ... seeds in one program;
  5. precision: the largest observation difference from the CPU after 100 steps under default and highest
     matmul precision, and what highest costs in env stepping and in the update;
  6. env_throughput_more: walker-walk and humanoid-walk, as in 1;
  7. paper_training: the paper protocol on cheetah-run with 8 vmapped seeds for the rest of the budget.
Each part has a share of the budget; one that cannot start in time is skipped with the reason, and items a part
cannot fit are listed as skipped. The JSON (device, versions, config, compile and run seconds per part) is
rewritten after every part, so a part that raises loses nothing of the others; then the PNGs (throughput vs
num_envs, return vs seconds) and a summary table. On an accelerator a persistent compilation cache is used
(`--cache-dir`), so a second call compiles less.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax

from benchmarks import env_throughput, report_parts
from benchmarks.common import write_result
from benchmarks.report_parts import ReportSizes
from mjx_iqrl import config

# (name, share of the budget, seconds it needs at least to start, whether it takes the rest of the budget).
PARTS: tuple[tuple[str, float, float, bool], ...] = (
    ("env_throughput", 0.12, 15, False),
    ("update_throughput", 0.10, 15, False),
    ("fast_training", 0.30, 60, False),
    ("seed_scaling", 0.12, 30, False),
    ("precision", 0.08, 20, False),
    ("env_throughput_more", 0.10, 30, False),
    ("paper_training", 0.18, 40, True),
)


def part_functions(sizes: ReportSizes, out: Path, done: dict[str, Any]) -> dict[str, Callable[[float], dict[str, Any]]]:
    """Each part as a function of its deadline; `done` holds the results of the parts that ran before it."""
    return {
        "env_throughput": lambda d: report_parts.env_throughput_part(sizes, d, sizes.tasks[:1]),
        "update_throughput": lambda d: report_parts.update_throughput_part(sizes, d),
        "fast_training": lambda d: report_parts.fast_training_part(sizes, d, out),
        "seed_scaling": lambda d: report_parts.seed_scaling_part(sizes, d),
        "precision": lambda d: report_parts.precision_part(sizes, d, done),
        "env_throughput_more": lambda d: report_parts.env_throughput_part(sizes, d, sizes.tasks[1:]),
        "paper_training": lambda d: report_parts.paper_training_part(sizes, d, out),
    }


def run_parts(budget_s: float, sizes: ReportSizes, out: Path, write: Callable[[dict], Path], smoke: bool) -> dict:
    """Runs every part within the budget, writing the report after each; returns the parts' results."""
    start = time.perf_counter()
    end = start + budget_s
    parts: dict[str, Any] = {}
    functions = part_functions(sizes, out, parts)
    for name, share, needs, rest in PARTS:
        now = time.perf_counter()
        needs = 0.0 if smoke else needs
        if name == "env_throughput_more" and len(sizes.tasks) < 2:
            parts[name] = {"status": "skipped", "reason": "no further tasks at these sizes"}
        elif end - now < needs:
            parts[name] = {
                "status": "skipped",
                "reason": f"{end - now:.0f} s of the budget left, the part needs {needs:.0f} s",
            }
        else:
            deadline = end if rest else min(end, now + share * budget_s)
            print(f"gpu_report: {name} (until {deadline - start:.0f} s of {budget_s:.0f} s) ...", flush=True)
            try:
                result = functions[name](deadline)
                parts[name] = {"status": "ok", **result}
            except Exception as err:  # a failing part must not lose the others' results
                parts[name] = {
                    "status": "error",
                    "error": f"{type(err).__name__}: {err}",
                    "trace": traceback.format_exc()[-4000:],
                }
            parts[name]["seconds"] = time.perf_counter() - now
            if "compile_s" in parts[name]:
                parts[name]["run_s"] = parts[name]["seconds"] - parts[name]["compile_s"]
        write(parts)
    return parts


def summary(parts: dict[str, Any]) -> list[str]:
    """The headline figures, one line each."""
    lines = [f"{'part':20s} {'status':8s} {'seconds':>8s}  figures"]
    for name, part in parts.items():
        figures = ""
        if part["status"] == "ok":
            figures = _figures(name, part)
        elif part["status"] != "ok":
            figures = part.get("reason") or part.get("error", "")
        lines.append(f"{name:20s} {part['status']:8s} {part.get('seconds', 0):8.0f}  {figures[:160]}")
    return lines


def _figures(name: str, part: dict[str, Any]) -> str:
    if name.startswith("env_throughput"):
        best = {}
        for r in part["results"]:
            key = (r["task"], r["profile"])
            if key not in best or r["num_envs"] > best[key]["num_envs"]:
                best[key] = r
        return "; ".join(
            f"{t} {p} @{r['num_envs']}: {r['env_steps_per_s']:.3g}/s ({r['ratio']:.2f} of raw)"
            for (t, p), r in best.items()
        )
    if name == "update_throughput":
        return "; ".join(f"B {r['batch_size']}: {r['ms_per_update_step']:.2f} ms/update" for r in part["results"])
    if name == "seed_scaling":
        return "; ".join(
            f"S {r['num_seeds']}: {r['updates_per_s']:.0f} upd/s ({r['updates_per_s_per_seed']:.0f}/seed)"
            for r in part["results"]
        )
    if name == "precision":
        return (
            f"max obs diff vs CPU: default {part['max_obs_diff_default']:.2g}, "
            f"highest {part['max_obs_diff_highest']:.2g}; "
            f"highest/default env {part['env_highest_over_default']}, update {part['update_highest_over_default']}"
        )
    reached = ", ".join(
        f">={k}: {v['train_s']:.0f} s / {v['env_steps']} steps" if v else f">={k}: not reached"
        for k, v in part["time_to"].items()
    )
    dm = part.get("dm_control", {})
    dm_text = f", dm_control {dm['return_mean']:.1f}" if "return_mean" in dm else ""
    final = f"final IQM {part['final_iqm']:.1f}{dm_text}"
    return f"{part['env_steps']} env steps in {part['train_s']:.0f} s, {final}; {reached}"


def plots(parts: dict[str, Any], out: Path, device: str) -> list[Path]:
    """throughput_<device>.png (env steps/s vs num_envs) and returns_<device>.png (return vs training seconds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    rows = [r for n in ("env_throughput", "env_throughput_more") for r in parts.get(n, {}).get("results", [])]
    if rows:
        paths.append(env_throughput.plot(rows, out / f"throughput_{device}.png"))
    runs = [(n, parts[n]) for n in ("fast_training", "paper_training") if parts.get(n, {}).get("status") == "ok"]
    if runs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, part in runs:
            curve = part["curve"]
            ax.plot(
                [p["train_s"] for p in curve],
                [p["iqm"] for p in curve],
                "o-",
                ms=3,
                label=f"{name} ({part['seeds']} seeds)",
            )
        ax.set(xlabel="training seconds (compilation excluded)", ylabel="evaluation return (IQM)", title=device)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"returns_{device}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def markdown_table(report: dict[str, Any]) -> str:
    """The README's results table from a report JSON: the headline figures of each part, or why it is missing."""
    parts, env = report["parts"], report["environment"]
    rows = [f"| figure ({env['device_kind']}, jax {env['versions']['jax']}) | value |", "|---|---|"]

    def missing(name: str) -> str:
        part = parts.get(name, {})
        return part.get("reason") or part.get("error") or "not run"

    for name in ("env_throughput", "env_throughput_more"):
        part = parts.get(name, {})
        if part.get("status") != "ok":
            rows.append(f"| {name} | {missing(name)} |")
            continue
        for r in part["results"]:
            rows.append(
                f"| {r['task']} {r['profile']}, {r['num_envs']} envs: env steps/s (raw mjx.step) | "
                f"{r['env_steps_per_s']:,.0f} ({r['raw_steps_per_s']:,.0f}, ratio {r['ratio']:.2f}) |"
            )
    if parts.get("update_throughput", {}).get("status") == "ok":
        for r in parts["update_throughput"]["results"]:
            rows.append(f"| paper-size update, batch {r['batch_size']} | {r['ms_per_update_step']:.2f} ms |")
    if parts.get("seed_scaling", {}).get("status") == "ok":
        for r in parts["seed_scaling"]["results"]:
            rows.append(
                f"| paper protocol, {r['num_seeds']} seeds: updates/s total (per seed) | "
                f"{r['updates_per_s']:,.0f} ({r['updates_per_s_per_seed']:,.0f}) |"
            )
    for name in ("fast_training", "paper_training"):
        part = parts.get(name, {})
        if part.get("status") != "ok":
            rows.append(f"| {name} | {missing(name)} |")
            continue
        for threshold, hit in part["time_to"].items():
            value = f"{hit['train_s']:.0f} s, {hit['env_steps']:,} env steps" if hit else "not reached"
            rows.append(f"| {name}: time to {threshold} | {value} |")
        rows.append(f"| {name}: final IQM return at {part['env_steps']:,} env steps | {part['final_iqm']:.1f} |")
        if "return_mean" in part.get("dm_control", {}):
            rows.append(f"| {name}: final policy in dm_control | {part['dm_control']['return_mean']:.1f} |")
    if parts.get("precision", {}).get("status") == "ok":
        p = parts["precision"]
        rows.append(
            f"| max obs difference from CPU after {p['steps']} steps, default / highest precision | "
            f"{p['max_obs_diff_default']:.2g} / {p['max_obs_diff_highest']:.2g} |"
        )
        rows.append(
            f"| highest / default precision: env steps/s, update time | "
            f"{p['env_highest_over_default']} / {p['update_highest_over_default']} |"
        )
    return "\n".join(rows)


def enable_cache(cache_dir: str | None) -> str | None:
    """The persistent compilation cache on an accelerator (or where asked); None on CPU without --cache-dir."""
    if cache_dir is None and jax.default_backend() == "cpu":
        return None
    path = cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path.home() / ".cache" / "mjx_iqrl_jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    """Runs the report and prints its summary table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=480.0, help="seconds for all parts, compilation included")
    parser.add_argument("--out", default=None, help="output folder (JSON, PNGs, the exported fast policy)")
    parser.add_argument("--markdown", default=None, help="print the README table of this report JSON and stop")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU, every part, about 2 minutes")
    parser.add_argument("--cache-dir", default=None, help="persistent compilation cache (default on accelerators)")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(json.loads(Path(args.markdown).read_text())))
        return Path(args.markdown)
    if args.out is None:
        parser.error("--out is required")
    if args.budget_s <= 0:
        parser.error("--budget-s must be positive")
    sizes = ReportSizes.smoke() if args.smoke else ReportSizes()
    if args.smoke:
        # The smoke checks that every part runs; its tiny contact-free programs compile faster unoptimised and with
        # XLA's older CPU loop emitters (read when the backend starts, which no code above has done).
        jax.config.update("jax_disable_most_optimizations", True)
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_use_fusion_emitters=false".strip()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = enable_cache(args.cache_dir)
    defaults = config.Config()
    settings = {
        "budget_s": args.budget_s,
        "smoke": args.smoke,
        "xla_optimisations": not args.smoke,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "sizes": dataclasses.asdict(sizes),
        "persistent_compilation_cache": cache,
        "precision_policy": {
            "env.matmul_precision": defaults.env.matmul_precision,
            "agent.matmul_precision": defaults.agent.matmul_precision,
        },
    }
    started = time.perf_counter()
    write = lambda parts: write_result("gpu_report", {"config": settings, "parts": parts}, out)
    parts = run_parts(args.budget_s, sizes, out, write, args.smoke)
    lines = summary(parts)
    path = write_result(
        "gpu_report",
        {"config": settings, "parts": parts, "summary": lines, "total_s": time.perf_counter() - started},
        out,
    )
    device = path.stem.removeprefix("gpu_report_")
    for png in plots(parts, out, device):
        print(f"wrote {png}")
    print("\n".join(lines))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
