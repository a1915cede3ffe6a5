"""Evaluate a checkpoint's deterministic policy: `python -m mjx_iqrl.evaluate <run_dir> [options]`.

Backends: `mjx` runs the episodes in parallel on our MJX task (physics profile as chosen); `dm_control` runs them in
real dm_control on the CPU, which is how results compare with the published ones (and what shows the cost of
training with `physics=fast`). Returns are on the DMC 0-1000 scale. Prints one line per backend and, with `--json`,
writes the returns to a file.

`--video out.mp4` renders the episodes instead (one after another, headless: EGL, else OSMesa; `MUJOCO_GL`
chooses), from MJX states copied to MuJoCo or from dm_control's own physics, and prints their returns; with two
backends each gets its own file (`out-mjx.mp4`, `out-dm_control.mp4`).

    python -m mjx_iqrl.evaluate runs/cheetah-run/2026-11-21_10-00-00_seed42 --episodes 10 --backend dm_control
    python -m mjx_iqrl.evaluate runs/cheetah-run/2026-11-21_10-00-00_seed42 --video cheetah.mp4 --episodes 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

import envs
from envs import render
from mjx_iqrl import video
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


def render_video(policy: LoadedPolicy, path: Path, backend: str, args: argparse.Namespace, physics: str) -> list[float]:
    """Writes the episodes of one backend to `path`; returns their returns."""
    repeat = policy.meta["config"]["env"]["action_repeat"]
    size = render.parse_size(args.size)
    returns: list[float] = []

    def _act(params: None, obs: np.ndarray) -> jax.Array:
        return policy.act(obs)

    if backend == "mjx":
        env = envs.make(policy.task, physics=physics)
        with render.Renderer(env.mj_model, *size, camera=args.camera) as renderer:
            images = video.mjx_images(env, _act, None, repeat, args.episodes, args.seed, renderer, args.frames, returns)
            video.write_mp4(path, images, video.fps(env.control_dt))
    else:
        env = envs.make(policy.task)
        images = video.dm_control_images(
            policy.task, _act, None, repeat, args.episodes, args.seed, size, args.camera, args.frames, returns
        )
        video.write_mp4(path, images, video.fps(env.control_dt))
    return returns


def _camera(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


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
    parser.add_argument("--video", type=Path, default=None, help="render the episodes to this MP4 file instead")
    parser.add_argument("--camera", type=_camera, default=0, help="camera id or name for --video (-1: free camera)")
    parser.add_argument("--size", default="320x240", help="video size WIDTHxHEIGHT, even numbers (default 320x240)")
    parser.add_argument("--frames", type=int, default=None, help="frames per episode for --video (default: all)")
    args = parser.parse_args(argv)
    if args.episodes < 1 or (args.frames is not None and args.frames < 1):
        parser.error("--episodes and --frames must be positive")
    try:
        policy = load_policy(args.path, seed_index=args.seed_index)
        if args.video is not None:
            render.parse_size(args.size)
            render.select_gl()
    except (ConfigError, render.RenderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run_cfg = policy.meta["config"]
    repeat = run_cfg["env"]["action_repeat"]
    physics = args.physics or run_cfg["env"]["physics"]
    out = {"task": policy.task, "env_steps": policy.meta["env_steps"], "returns": {}}
    for backend in args.backend:
        label = f"mjx ({physics})" if backend == "mjx" else "dm_control"
        if args.video is not None:
            path = args.video
            if len(args.backend) > 1:
                path = path.with_name(f"{path.stem}-{backend}{path.suffix or '.mp4'}")
            try:
                returns = np.asarray(render_video(policy, path, backend, args, physics))
            except ConfigError as err:  # e.g. a camera the model does not have
                print(f"error: {err}", file=sys.stderr)
                return 2
            out["returns"][backend] = returns.tolist()
            shown = ", ".join(f"{r:.1f}" for r in returns)
            print(f"{policy.task}, {label}: wrote {path} ({len(returns)} episodes, returns {shown})")
            continue
        if backend == "mjx":
            returns = evaluate_mjx(policy, args.episodes, args.seed, physics, repeat)
        else:
            returns = evaluate_dm_control(policy, args.episodes, args.seed, repeat)
        out["returns"][backend] = returns.tolist()
        print(
            f"{policy.task} @ {policy.meta['env_steps']} env steps, {label}: "
            f"return {returns.mean():.1f} +- {returns.std():.1f} over {len(returns)} episodes"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
