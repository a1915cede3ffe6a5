"""Sample efficiency vs wall-clock efficiency: evaluation return against env steps and against training seconds.

Trains one task under several regimes, one after another in this process, each to the same budget (env steps
and/or training seconds), and records the deterministic-policy evaluation return against env steps and against
training time (compilation and evaluation excluded; compilation is reported per regime). A regime is an iQRL preset
or a brax baseline, optionally with overrides (`benchmarks/regimes.py`): `paper`, `fast:train.num_envs=512`,
`brax-ppo`, `brax-sac:sac.num_envs=64`. Writes JSON and a PNG with the two panels side by side, and the time each
regime needed to reach given returns: the IQM curve's over seeds and, per seed, each seed's own (their IQM with a
95% CI). With `--separate-seeds` iQRL's seeds train one after another, one program each, as brax's do: on a CPU,
vmapped seeds share the cores, so a vmapped program's seconds are not one seed's. `benchmarks/frontier.py` is the
same with the Pareto panel.

    python benchmarks/efficiency.py --task cheetah-run --env-steps 1000000 --seconds 1800 \\
        --regimes paper fast brax-ppo brax-sac
    python benchmarks/efficiency.py --task cartpole-swingup --env-steps 20000 --regimes paper fast:train.num_envs=64 \\
        --set agent.latent_dim=32 "agent.mlp_dims=[64,64]"     # a small CPU run
    python benchmarks/efficiency.py --task cartpole-swingup --env-steps 1000000 --seconds 900 --seeds 3 \\
        --separate-seeds --thresholds 500 700 --regimes paper balanced fast brax-sac brax-ppo \\
        --runs-dir runs/efficiency --checkpoint-every 20000 --resume   # 3 seeds alone per regime, resumable
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finished_rows, run_settings, write_result
from benchmarks.regimes import Budget, parse_regime, run_regime
from mjx_iqrl import plotting

DEFAULT_REGIMES = ["paper", "fast", "brax-ppo", "brax-sac"]
THRESHOLDS = (500.0, 800.0)


def plot(results: list[dict], task: str, path: Path) -> Path:
    """Two panels: IQM return (95% CI) vs env steps and vs training seconds."""
    fig, (left, right) = plotting.pyplot().subplots(1, 2, figsize=(11, 4))
    labels = [f"{r['regime']} ({r['num_envs']} envs, compile {r['compile_s']:.0f} s)" for r in results]
    plotting.learning_panels(left, right, [(label, r["curve"]) for label, r in zip(labels, results, strict=True)])
    left.set_title(f"{task}: sample efficiency")
    right.set_title("wall-clock efficiency")
    return plotting.save_with_legend_below(fig, left, path)


def main(argv: list[str] | None = None) -> Path:
    """Runs the regimes, prints a summary, writes JSON and PNG under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run")
    parser.add_argument("--regimes", nargs="+", default=DEFAULT_REGIMES, help="name[:key=value,...] per regime")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per regime (iQRL: vmapped)")
    parser.add_argument(
        "--separate-seeds",
        action="store_true",
        help="train iQRL's seeds one after another, one per program, each on its own clock (as brax's), not vmapped",
    )
    parser.add_argument("--thresholds", nargs="+", type=float, default=list(THRESHOLDS), help="returns to time")
    parser.add_argument("--env-steps", type=int, default=1_000_000, help="env-step budget per regime")
    parser.add_argument("--seconds", type=float, default=None, help="training-time budget per regime")
    parser.add_argument("--eval-every", type=int, default=20_000, help="env steps between evaluations")
    parser.add_argument("--set", nargs="*", default=[], help="overrides applied to every iQRL regime")
    parser.add_argument("--name", default="efficiency", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument(
        "--resume", action="store_true", help="keep the listed regimes already in the result JSON, run the others"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="keep the run folders here (default: a temporary folder); with --checkpoint-every, --resume continues "
        "an interrupted iQRL regime from its runs' checkpoints",
    )
    parser.add_argument("--checkpoint-every", type=int, default=0, help="env steps between iQRL runs' checkpoints")
    args = parser.parse_args(argv)
    for text in args.regimes:
        parse_regime(text)
    if args.checkpoint_every and args.runs_dir is None:
        parser.error("--checkpoint-every needs --runs-dir (the checkpoints are kept there)")

    budget = Budget(env_steps=args.env_steps, seconds=args.seconds, eval_every=args.eval_every)
    settings = run_settings(args, separate_seeds=args.separate_seeds, thresholds=args.thresholds)
    results = finished_rows(args.name, settings, args.regimes, args.out_dir) if args.resume else []
    done = {r["regime"] for r in results}
    with contextlib.ExitStack() as stack:
        runs_dir = args.runs_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for regime in args.regimes:
            if regime in done:
                continue
            r = run_regime(
                args.task,
                regime,
                budget,
                args.seeds,
                args.set,
                args.thresholds,
                runs_dir,
                checkpoint_every=args.checkpoint_every,
                separate_seeds=args.separate_seeds,
            )
            results.append(r)
            reached = ", ".join(_reached(k, v, r["time_to_per_seed"][k]) for k, v in r["time_to"].items())
            final = r["final"]["iqm"] if r["final"] else float("nan")
            print(
                f"{regime:28s} envs {r['num_envs']:5d}  compile {r['compile_s']:6.1f}s  train {r['train_s']:7.1f}s  "
                f"steps {r['env_steps']:9d}  final return {final:6.1f}  {reached}",
                flush=True,
            )
            _write(results, settings, args)  # after every regime: an interrupted run keeps what finished
    path = _write(results, settings, args)
    print(f"wrote {path}\nwrote {path.with_suffix('.png')}")
    return path


def _reached(threshold: str, at: dict | None, per_seed: dict) -> str:
    """'>=500: 321s/40000 steps (seeds: IQM 300s [280, 330])', or 'not reached' and how many seeds got there."""
    text = f">={threshold}: " + (f"{at['train_s']:.0f}s/{at['env_steps']} steps" if at else "not reached")
    if per_seed["seeds"] > 1:
        if per_seed["train_s_iqm"] is None:
            text += f" ({per_seed['reached']} of {per_seed['seeds']} seeds)"
        else:
            low, high = per_seed["train_s_iqm_ci"]
            text += f" (seeds: IQM {per_seed['train_s_iqm']:.0f}s [{low:.0f}, {high:.0f}])"
    return text


def _write(results: list[dict], settings: dict, args: argparse.Namespace) -> Path:
    """The JSON and the PNG of the regimes so far."""
    payload = {
        "config": settings,
        "results": results,
        "final_return": {r["regime"]: (r["final"]["iqm"] if r["final"] else None) for r in results},
        "best_return": {r["regime"]: max(p["iqm"] for p in r["curve"]) for r in results if r["curve"]},
    }
    path = write_result(args.name, payload, args.out_dir)
    plot(results, args.task, path.with_suffix(".png"))
    return path


if __name__ == "__main__":
    main()
