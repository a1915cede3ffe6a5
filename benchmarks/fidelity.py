"""Divergence from dm_control over whole episodes of random actions, per task and physics profile.

For each task: reset dm_control (seeded), copy its state into ours, then step both with the same uniform random
actions for a full episode. Reports the largest observation difference at a few horizons, the largest per-step
reward difference, and the episode returns of both (their difference is what a learning curve would see). Chaotic
tasks diverge over an episode even from float32 rounding alone; `physics=fast` shows the cost of its tuning.

    python benchmarks/fidelity.py --tasks cheetah-run walker-walk --profiles dmc fast
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import envs
from benchmarks.common import write_result
from envs import reference

HORIZONS = (1, 10, 100, 1000)


def episode(task: str, profile: str, seed: int, steps: int) -> dict:
    """One episode of both simulators from the same initial state with the same actions."""
    env = envs.make(task, physics=profile)
    reset_to, step = jax.jit(env.reset_to), jax.jit(env.step)
    dm_env = reference.load(task, seed)
    dm_env.reset()
    state = reset_to(**reference.physics_state(dm_env, env))
    spec = dm_env.action_spec()
    rng = np.random.default_rng(seed)
    obs_err, reward_err, ours_return, dm_return = [], [], 0.0, 0.0
    for _ in range(steps):
        action = rng.uniform(spec.minimum, spec.maximum, spec.shape)
        ts = dm_env.step(action)
        state = step(state, action.astype(np.float32))
        obs_err.append(float(np.max(np.abs(np.asarray(state.obs) - reference.flat_obs(ts)))))
        reward_err.append(abs(float(state.reward) - ts.reward))
        ours_return += float(state.reward)
        dm_return += ts.reward
    obs_err = np.maximum.accumulate(obs_err)
    return {
        "seed": seed,
        "max_obs_diff_by_step": {h: float(obs_err[h - 1]) for h in HORIZONS if h <= steps},
        "max_reward_diff": float(max(reward_err)),
        "return_ours": ours_return,
        "return_dm_control": dm_return,
    }


def main(argv: list[str] | None = None) -> None:
    """Runs the comparison, prints a table, writes JSON under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks (default: all registered)")
    parser.add_argument("--profiles", nargs="+", default=["dmc", "fast"], choices=["dmc", "fast"])
    parser.add_argument("--seeds", type=int, default=2, help="episodes per task and profile")
    parser.add_argument("--steps", type=int, default=1000, help="control steps per episode")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    tasks = args.tasks or envs.list_tasks()
    rows = []
    print(f"{'task':26s} {'profile':7s} {'seed':>4s} {'obs@10':>9s} {'obs@end':>9s} {'rew diff':>9s} {'return':>15s}")
    for task in tasks:
        for profile in args.profiles:
            for seed in range(args.seeds):
                row = {"task": task, "profile": profile, **episode(task, profile, seed, args.steps)}
                rows.append(row)
                by_step = row["max_obs_diff_by_step"]
                print(
                    f"{task:26s} {profile:7s} {seed:4d} {by_step.get(10, float('nan')):9.2e} "
                    f"{by_step[max(by_step)]:9.2e} {row['max_reward_diff']:9.2e} "
                    f"{row['return_ours']:7.1f}/{row['return_dm_control']:7.1f}",
                    flush=True,
                )
    config = {"tasks": tasks, "profiles": args.profiles, "seeds": args.seeds, "steps": args.steps}
    print(f"wrote {write_result('fidelity', {'config': config, 'results': rows}, args.out_dir)}")


if __name__ == "__main__":
    main()
