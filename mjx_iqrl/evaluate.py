"""Evaluate a checkpoint's deterministic policy: `python -m mjx_iqrl.evaluate <run_dir> [options]`.

Backends: `mjx` runs the episodes in parallel on our MJX task (physics profile as chosen); `dm_control` runs them in
real dm_control on the CPU, which is how results compare with the published ones (and what shows the cost of
training with `physics=fast`). Returns are on the DMC 0-1000 scale. Prints one line per backend and, with `--json`,
writes the returns to a file.

    python -m mjx_iqrl.evaluate runs/cheetah-run/2026-11-21_10-00-00_seed42 --episodes 10 --backend dm_control
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

import envs
from mjx_iqrl.checkpoint import LoadedPolicy, load_policy
from mjx_iqrl.errors import ConfigError
from mjx_iqrl.eval_episodes import dm_control_returns, make_evaluate


def evaluate_mjx(policy: LoadedPolicy, episodes: int, seed: int, physics: str, action_repeat: int) -> np.ndarray:
    """Returns of `episodes` parallel episodes of the MJX task."""
    env = envs.make(policy.task, physics=physics)
    evaluate = make_evaluate(env, lambda params, obs: policy.act(obs), action_repeat, episodes)
    return np.asarray(jax.jit(evaluate)(None, jax.random.PRNGKey(seed)))


def evaluate_dm_control(policy: LoadedPolicy, episodes: int, seed: int, action_repeat: int) -> np.ndarray:
    """Returns of `episodes` episodes in dm_control itself (CPU MuJoCo), the policy acting every action_repeat steps."""
    return dm_control_returns(policy.act, policy.task, episodes, seed, action_repeat)


def main(argv: list[str] | None = None) -> int:
    """Parses arguments, loads the policy and prints the mean and std return per backend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="run directory (newest checkpoint) or a checkpoint folder")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per backend (default 10)")
    parser.add_argument("--backend", nargs="+", default=["mjx"], choices=["mjx", "dm_control"])
    parser.add_argument("--physics", default=None, help="MJX physics profile (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed")
    parser.add_argument("--seed-index", type=int, default=0, help="which seed of a multi-seed run")
    parser.add_argument("--json", type=Path, default=None, help="also write the returns to this JSON file")
    args = parser.parse_args(argv)
    try:
        policy = load_policy(args.path, seed_index=args.seed_index)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run_cfg = policy.meta["config"]
    repeat = run_cfg["env"]["action_repeat"]
    physics = args.physics or run_cfg["env"]["physics"]
    out = {"task": policy.task, "env_steps": policy.meta["env_steps"], "returns": {}}
    for backend in args.backend:
        if backend == "mjx":
            returns = evaluate_mjx(policy, args.episodes, args.seed, physics, repeat)
        else:
            returns = evaluate_dm_control(policy, args.episodes, args.seed, repeat)
        out["returns"][backend] = returns.tolist()
        label = f"mjx ({physics})" if backend == "mjx" else "dm_control"
        print(
            f"{policy.task} @ {policy.meta['env_steps']} env steps, {label}: "
            f"return {returns.mean():.1f} +- {returns.std():.1f} over {len(returns)} episodes"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
