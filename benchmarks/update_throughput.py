"""Gradient updates per second of the trainer's update loop, for several batch sizes and numbers of vmapped seeds.

What is timed is what a training chunk runs between two env steps: the trainer's own update loop
(`mjx_iqrl.training.make_update_loop`: replay sampling, the iQRL update, the metric sums and the non-finite watch) on
the agent as the trainer builds it (`make_training_agent`: no per-update SVD; training computes the latent rank once
per chunk), vmapped over S seeds exactly as the trainer is. The replay holds synthetic transitions of the task's
shapes with an episode end every 500 agent steps. K updates run per call, so dispatch is amortised; compilation is
timed separately; each timing blocks until the result is ready, and the median of the repeats is reported.

    python benchmarks/update_throughput.py --task cheetah-run --batch-sizes 256 1024 4096 --num-seeds 1 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

if __package__ in (None, ""):  # run as a file path: make the repository root importable for `benchmarks.common`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs
from benchmarks.common import write_result
from mjx_iqrl import config, replay, schema
from mjx_iqrl.runner import SEED_AXIS
from mjx_iqrl.training import make_training_agent, make_update_loop

EPISODE_AGENT_STEPS = 500
"""Agent steps per episode of the synthetic replay (1000 env steps at action repeat 2)."""


def synthetic_replay(key: jax.Array, length: int, obs_size: int, action_size: int) -> replay.ReplayState:
    """A full buffer of one env's random transitions, an episode ending every EPISODE_AGENT_STEPS steps."""
    key_obs, key_next, key_act, key_rew = jax.random.split(key, 4)
    done = (jnp.arange(length) % EPISODE_AGENT_STEPS == EPISODE_AGENT_STEPS - 1).astype(jnp.float32)[:, None]
    data = replay.Transition(
        obs=jax.random.normal(key_obs, (length, 1, obs_size)),
        action=jax.random.uniform(key_act, (length, 1, action_size), minval=-1.0, maxval=1.0),
        reward=jax.random.uniform(key_rew, (length, 1)),
        terminated=jnp.zeros((length, 1)),
        done=done,
        next_obs=jax.random.normal(key_next, (length, 1, obs_size)),
    )
    return replay.ReplayState(data=data, head=jnp.zeros((), jnp.int32), size=jnp.asarray(length, jnp.int32))


def measure(
    overrides: list[str], batch_size: int, num_seeds: int, updates_per_call: int, repeats: int, replay_length: int
) -> dict[str, Any]:
    """Compile time and the median rates over `repeats` timed calls (after one untimed warm-up call)."""
    cfg = config.compose([*overrides, f"train.batch_size={batch_size}"])
    task_env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
    agent = make_training_agent(cfg, task_env)
    loop = make_update_loop(agent, batch_size, cfg.agent.horizon)
    run = jax.jit(jax.vmap(loop, axis_name=SEED_AXIS), donate_argnums=0)

    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), 3 * num_seeds).reshape(3, num_seeds, 2)
    states = jax.jit(jax.vmap(agent.init))(keys[0])
    buffers = jax.jit(
        jax.vmap(lambda k: synthetic_replay(k, replay_length, task_env.observation_size, task_env.action_size))
    )(keys[1])
    counts = jnp.full((num_seeds,), updates_per_call, jnp.int32)
    firsts = jnp.zeros((num_seeds,), jnp.int32)

    start = time.perf_counter()
    compiled = run.lower(states, buffers, counts, firsts, keys[2]).compile()
    compile_s = time.perf_counter() - start

    result = compiled(states, buffers, counts, firsts, keys[2])  # warm-up: first execution, allocation
    jax.block_until_ready(result)
    seconds = []
    for i in range(repeats):
        call_keys = jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(keys[2])
        start = time.perf_counter()
        result = compiled(result.agent, buffers, counts, firsts, call_keys)
        jax.block_until_ready(result)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    total_updates = num_seeds * updates_per_call
    return {
        "batch_size": batch_size,
        "num_seeds": num_seeds,
        "host_load_1min": round(os.getloadavg()[0], 2),  # CPU timings are only comparable on an idle host
        "compile_s": round(compile_s, 3),
        "call_seconds": [round(s, 4) for s in seconds],
        "median_call_s": round(median, 4),
        "updates_per_s": round(total_updates / median, 3),
        "updates_per_s_per_seed": round(updates_per_call / median, 3),
        "ms_per_update_step": round(1000.0 * median / updates_per_call, 3),
        "final_critic_loss": float(jnp.mean(result.sums["critic_loss"]) / updates_per_call),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run", help="task whose shapes (observation, action) are used")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096], help="batch sizes to time")
    parser.add_argument("--num-seeds", type=int, nargs="+", default=[1], help="vmapped seeds (S) to time")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per configuration (median reported)")
    parser.add_argument("--updates-per-call", type=int, default=100, help="updates per seed inside one call")
    parser.add_argument("--replay-length", type=int, default=100_000, help="synthetic transitions per seed")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides (default: the paper-size agent)")
    parser.add_argument("--name", default="update_throughput", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    args = parser.parse_args(argv)
    sizes = [*args.batch_sizes, *args.num_seeds, args.repeats, args.updates_per_call]
    if min(sizes) < 1 or args.replay_length < 1000:
        parser.error("sizes, repeats and updates per call must be >= 1, and --replay-length >= 1000")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Times every (S, batch size), prints a table and writes benchmarks/results/<name>_<device>.json."""
    args = parse_args(argv)
    # Compile times must not come from JAX's persistent cache (which JAX_COMPILATION_CACHE_DIR would switch on).
    jax.config.update("jax_enable_compilation_cache", False)
    overrides = [f"task={args.task}", "logger.progress=false", *args.set]
    print(f"device: {jax.devices()[0]}  updates/call per seed: {args.updates_per_call}  repeats: {args.repeats}")
    print(f"{'S':>3} {'batch':>6} {'compile s':>10} {'ms/step':>9} {'updates/s':>10} {'per seed':>9}")
    results = []
    for num_seeds in args.num_seeds:
        for batch_size in args.batch_sizes:
            row = measure(overrides, batch_size, num_seeds, args.updates_per_call, args.repeats, args.replay_length)
            results.append(row)
            print(
                f"{num_seeds:>3} {batch_size:>6} {row['compile_s']:>10.2f} {row['ms_per_update_step']:>9.2f} "
                f"{row['updates_per_s']:>10.2f} {row['updates_per_s_per_seed']:>9.2f}",
                flush=True,
            )
    path = write_result(
        args.name,
        {
            "config": schema.to_dict(config.compose(overrides)),
            "overrides": overrides,
            "updates_per_call": args.updates_per_call,
            "replay_length": args.replay_length,
            "persistent_compilation_cache": False,
            "repeats": args.repeats,
            "results": results,
        },
        out_dir=args.out_dir,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
