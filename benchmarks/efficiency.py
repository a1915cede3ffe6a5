"""Sample efficiency vs wall-clock efficiency: evaluation return against env steps and against training seconds.

Trains one task under several regimes, one after another in this process, each to the same budget (env steps and/or
training seconds), and records the deterministic-policy evaluation return against env steps and against training
time (compilation, evaluation and checkpoints excluded; compilation is reported per regime). Writes JSON and a PNG
with the two panels side by side, and the time each regime needed to reach given returns.

A regime is a preset name optionally followed by overrides: `paper`, `fast`, `fast:train.num_envs=512`.

    python benchmarks/efficiency.py --task cheetah-run --env-steps 1000000 --seconds 1800
    python benchmarks/efficiency.py --task cartpole-swingup --env-steps 20000 --regimes paper fast:train.num_envs=64 \
        --set agent.latent_dim=32 "agent.mlp_dims=[64,64]"     # a small CPU run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_result
from mjx_iqrl import config
from mjx_iqrl.runner import run

DEFAULT_REGIMES = ["paper", "fast:train.num_envs=256", "fast:train.num_envs=1024", "fast"]
THRESHOLDS = (500.0, 800.0)


def parse_regime(text: str) -> tuple[str, list[str]]:
    """'fast:train.num_envs=512,train.batch_size=512' -> ('fast', ['train.num_envs=512', 'train.batch_size=512'])."""
    preset, _, rest = text.partition(":")
    return preset, [o for o in rest.split(",") if o]


def time_to_reach(curve: list[dict], threshold: float) -> dict | None:
    """The first evaluation at or above `threshold`: its env steps and training seconds (None if never)."""
    for point in curve:
        if point["return"] >= threshold:
            return {"env_steps": point["env_steps"], "train_s": point["train_s"]}
    return None


def run_regime(task: str, regime: str, budget: list[str], extra: list[str], eval_every: int, out: Path) -> dict:
    """Trains one regime and returns its evaluation curve."""
    preset, overrides = parse_regime(regime)
    cfg = config.compose(
        [
            f"task={task}",
            f"preset={preset}",
            *budget,
            f"eval.every_env_steps={eval_every}",
            "checkpoint.every_env_steps=0",
            "logger.progress=false",
            *extra,
            *overrides,
        ]
    )
    result = run(cfg, run_dir=out / regime.replace(":", "_").replace("=", "-").replace(",", "_"))
    curve, compile_s, train_s = [], 0.0, 0.0
    for record in result.records:
        compile_s = record.get("time/compile_s", compile_s)
        train_s = record.get("time/train_s", train_s)
        if "eval/return_mean" in record:
            curve.append({"env_steps": record["env_steps"], "train_s": train_s, "return": record["eval/return_mean"]})
    last = result.records[-1]
    return {
        "regime": regime,
        "num_envs": cfg.train.num_envs,
        "utd_ratio": cfg.train.utd_ratio,
        "batch_size": cfg.train.batch_size,
        "physics": cfg.env.physics,
        "compile_s": compile_s,
        "train_s": train_s,
        "env_steps": last["env_steps"],
        "updates": last.get("updates", 0),
        "sps": last["env_steps"] / train_s if train_s else None,
        "curve": curve,
        "time_to": {str(int(t)): time_to_reach(curve, t) for t in THRESHOLDS},
    }


def plot(results: list[dict], task: str, path: Path) -> Path:
    """Two panels: return vs env steps, return vs training seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        steps = [p["env_steps"] for p in r["curve"]]
        secs = [p["train_s"] for p in r["curve"]]
        ret = [p["return"] for p in r["curve"]]
        label = f"{r['regime']} ({r['num_envs']} envs)"
        left.plot(steps, ret, "o-", ms=3, label=label)
        right.plot(secs, ret, "o-", ms=3, label=label)
    left.set(xlabel="env steps", ylabel="evaluation return", title=f"{task}: sample efficiency")
    right.set(
        xlabel="training seconds (compilation excluded)", ylabel="evaluation return", title="wall-clock efficiency"
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    """Runs the regimes, prints a summary, writes JSON and PNG under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run")
    parser.add_argument("--regimes", nargs="+", default=DEFAULT_REGIMES, help="preset[:override,...] per regime")
    parser.add_argument("--env-steps", type=int, default=1_000_000, help="env-step budget per regime")
    parser.add_argument("--seconds", type=float, default=None, help="training-time budget per regime")
    parser.add_argument("--eval-every", type=int, default=20_000, help="env steps between evaluations")
    parser.add_argument("--set", nargs="*", default=[], help="overrides applied to every regime")
    parser.add_argument("--name", default="efficiency", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)

    budget = [f"train.total_env_steps={args.env_steps}"]
    if args.seconds is not None:
        budget.append(f"train.max_train_seconds={args.seconds}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for regime in args.regimes:
            r = run_regime(args.task, regime, budget, args.set, args.eval_every, Path(tmp))
            results.append(r)
            reached = ", ".join(
                f">={k}: " + (f"{v['train_s']:.0f}s/{v['env_steps']} steps" if v else "not reached")
                for k, v in r["time_to"].items()
            )
            final = r["curve"][-1]["return"] if r["curve"] else float("nan")
            print(
                f"{regime:28s} envs {r['num_envs']:5d}  compile {r['compile_s']:6.1f}s  train {r['train_s']:7.1f}s  "
                f"steps {r['env_steps']:9d}  final return {final:6.1f}  {reached}",
                flush=True,
            )
    payload = {
        "config": {
            "task": args.task,
            "regimes": args.regimes,
            "env_steps": args.env_steps,
            "seconds": args.seconds,
            "eval_every": args.eval_every,
            "overrides": args.set,
        },
        "results": results,
        "final_return": {r["regime"]: (r["curve"][-1]["return"] if r["curve"] else None) for r in results},
        "best_return": {r["regime"]: float(np.max([p["return"] for p in r["curve"]])) for r in results if r["curve"]},
    }
    path = write_result(args.name, payload, args.out_dir)
    print(f"wrote {path}\nwrote {plot(results, args.task, path.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
