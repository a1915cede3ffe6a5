"""What a trained policy does in real dm_control: its return, how often it is rewarded, how fast one joint moves.

For each seed of a run's newest checkpoint it plays `--episodes` episodes in dm_control (the policy acting every
action_repeat control steps, as in training) and records, per seed:
- the return and the fraction of control steps that earned a reward (above `--reward-at`);
- the velocity of one named joint (`--joint`): its quantiles, and the fractions of steps at or beyond `--speed` in
  each direction (finger-spin rewards a hinge velocity of -15 rad/s or less, so a policy that turns the spinner
  the wrong way shows here).

    python benchmarks/policy_behaviour.py runs/suite/finger-spin/paper --joint hinge --speed 15 \
        --name finger_spin_policy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_result
from envs import reference
from mjx_iqrl.checkpoint import load_policy
from mjx_iqrl.errors import ConfigError

QUANTILES = ("5", "25", "50", "75", "95")
"""Percentiles of the joint velocity recorded per seed."""


def play(act: Any, task: str, seed: int, action_repeat: int, joint: str) -> tuple[np.ndarray, np.ndarray]:
    """One dm_control episode: per control step, its reward and the joint's velocity."""
    dm_env = reference.load(task, seed)
    timestep, t, action = dm_env.reset(), 0, None
    rewards, velocity = [], []
    while not timestep.last():
        if t % action_repeat == 0:
            action = np.asarray(act(reference.flat_obs(timestep).astype(np.float32)[None]))[0]
        timestep = dm_env.step(action)
        rewards.append(timestep.reward)
        velocity.append(float(dm_env.physics.named.data.qvel[joint][0]))
        t += 1
    return np.asarray(rewards), np.asarray(velocity)


def probe_seed(run_dir: Path, seed_index: int, args: argparse.Namespace) -> dict[str, Any]:
    """The measurements of one seed's policy over its episodes."""
    policy = load_policy(run_dir, seed_index=seed_index)
    config = policy.meta["config"]
    rewards, velocity = [], []
    for episode in range(args.episodes):
        r, v = play(policy.act, policy.task, args.seed + episode, config["env"]["action_repeat"], args.joint)
        rewards.append(r)
        velocity.append(v)
    r, v = np.concatenate(rewards), np.concatenate(velocity)
    return {
        "seed_index": seed_index,
        "returns": [float(x.sum()) for x in rewards],
        "rewarded_fraction": float(np.mean(r > args.reward_at)),
        "velocity_quantiles": {q: float(np.percentile(v, float(q))) for q in QUANTILES},
        "at_or_below_minus_speed": float(np.mean(v <= -args.speed)),
        "at_or_above_speed": float(np.mean(v >= args.speed)),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Probes every seed of the run and writes `<name>_<device>.json`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory (its newest checkpoint is played)")
    parser.add_argument("--joint", required=True, help="the joint whose velocity is recorded (MuJoCo name)")
    parser.add_argument("--speed", type=float, default=15.0, help="velocity threshold for the fractions")
    parser.add_argument("--reward-at", type=float, default=0.5, help="a control step above this counts as rewarded")
    parser.add_argument("--episodes", type=int, default=3, help="dm_control episodes per seed")
    parser.add_argument("--seed", type=int, default=0, help="first episode seed")
    parser.add_argument("--name", default="policy_behaviour", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    try:
        first = load_policy(args.run_dir)
    except ConfigError as error:
        parser.error(str(error))
    if args.joint not in reference.load(first.task, 0).physics.named.data.qvel.axes.row.names:
        parser.error(f"{first.task} has no joint {args.joint!r}")
    num_seeds = first.meta["config"]["num_seeds"]
    seeds = [probe_seed(args.run_dir, i, args) for i in range(num_seeds)]
    payload = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": seeds,
    }
    path = write_result(args.name, payload, args.out_dir)
    for s in seeds:
        print(
            f"seed {s['seed_index']}: return {np.mean(s['returns']):.0f}, rewarded {s['rewarded_fraction']:.2f}, "
            f"<= -{args.speed:g}: {s['at_or_below_minus_speed']:.2f}, >= {args.speed:g}: {s['at_or_above_speed']:.2f}"
        )
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
