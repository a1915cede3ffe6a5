"""Gradient updates per second of the jitted iQRL update, for the paper-size networks and several batch sizes.

K updates run inside one jitted `lax.scan` (on one fixed synthetic batch, fresh keys) so that dispatch is amortised;
compile time is measured separately; each timing blocks until the result is ready and the median of the repeats is
reported. Replay sampling is not included: this is the learner's cost alone.

    python -m benchmarks.update_throughput --batch-sizes 256 1024 4096 --updates-per-call 100 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

if __package__ in (None, ""):  # run as a file path: make the repository root importable for `benchmarks.common`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result
from mjx_iqrl.agent import Agent, AgentConfig, Batch, TrainState, make_agent

OBSERVATION_SIZE = 17
"""cheetah-run's observation size."""
ACTION_SIZE = 6
"""cheetah-run's action size."""


def synthetic_batch(key: jax.Array, batch_size: int, horizon: int) -> Batch:
    """Random windows in the replay format, with a few episode ends so that masking and n-step cuts do real work."""
    key_obs, key_act, key_rew, key_done = jax.random.split(key, 4)
    done = (jax.random.uniform(key_done, (batch_size, horizon)) < 0.01).astype(jnp.float32)
    return Batch(
        obs=jax.random.normal(key_obs, (batch_size, horizon + 1, OBSERVATION_SIZE)),
        action=jax.random.uniform(key_act, (batch_size, horizon, ACTION_SIZE), minval=-1.0, maxval=1.0),
        reward=jax.random.uniform(key_rew, (batch_size, horizon)),
        terminated=jnp.zeros((batch_size, horizon)),
        done=done,
    )


def make_run(agent: Agent, updates_per_call: int) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """A jitted function doing `updates_per_call` updates in one scan; returns the state and the mean metrics."""

    def run(state: TrainState, batch: Batch, key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
        def body(carry: TrainState, step_key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
            return agent.update(carry, batch, step_key)

        state, metrics = jax.lax.scan(body, state, jax.random.split(key, updates_per_call))
        return state, jax.tree.map(jnp.mean, metrics)

    return jax.jit(run)


def measure(cfg: AgentConfig, batch_size: int, updates_per_call: int, repeats: int) -> dict[str, Any]:
    """Compile time and the median updates/s over `repeats` timed calls (after one untimed warm-up call)."""
    agent = make_agent(cfg, OBSERVATION_SIZE, ACTION_SIZE)
    key_init, key_batch, key_run = jax.random.split(jax.random.key(0), 3)
    state = jax.jit(agent.init)(key_init)
    batch = synthetic_batch(key_batch, batch_size, cfg.horizon)
    run = make_run(agent, updates_per_call)

    start = time.perf_counter()
    compiled = run.lower(state, batch, key_run).compile()
    compile_s = time.perf_counter() - start

    state, metrics = compiled(state, batch, key_run)  # warm-up: first execution, allocation
    jax.block_until_ready((state, metrics))
    seconds = []
    for i in range(repeats):
        start = time.perf_counter()
        state, metrics = compiled(state, batch, jax.random.fold_in(key_run, i))
        jax.block_until_ready((state, metrics))
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "batch_size": batch_size,
        "host_load_1min": round(os.getloadavg()[0], 2),  # CPU timings are only comparable on an idle host
        "compile_s": round(compile_s, 3),
        "call_seconds": [round(s, 4) for s in seconds],
        "median_call_s": round(median, 4),
        "updates_per_s": round(updates_per_call / median, 3),
        "ms_per_update": round(1000.0 * median / updates_per_call, 3),
        "final_critic_loss": float(metrics["critic_loss"]),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096], help="batch sizes to time")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per batch size (median reported)")
    parser.add_argument("--updates-per-call", type=int, default=100, help="updates inside one jitted scan")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    parser.add_argument(
        "--log-latent-rank",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include the per-update SVD of the latent batch (AgentConfig.log_latent_rank)",
    )
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.repeats < 1 or args.updates_per_call < 1:
        parser.error("--batch-sizes, --repeats and --updates-per-call must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Times every batch size, prints a table and writes benchmarks/results/update_throughput_<device>.json."""
    args = parse_args(argv)
    # Compile times must not come from JAX's persistent cache (which JAX_COMPILATION_CACHE_DIR would switch on).
    jax.config.update("jax_enable_compilation_cache", False)
    cfg = AgentConfig(log_latent_rank=args.log_latent_rank)  # paper size: latent 512 x 2, H 5, 5 critics
    print(f"device: {jax.devices()[0]}  updates/call: {args.updates_per_call}  repeats: {args.repeats}")
    print(f"{'batch':>6} {'compile s':>10} {'ms/update':>10} {'updates/s':>10}")
    results = []
    for batch_size in args.batch_sizes:
        row = measure(cfg, batch_size, args.updates_per_call, args.repeats)
        results.append(row)
        print(f"{batch_size:>6} {row['compile_s']:>10.2f} {row['ms_per_update']:>10.2f} {row['updates_per_s']:>10.2f}")
    path = write_result(
        "update_throughput",
        {
            "config": cfg.to_dict(),
            "observation_size": OBSERVATION_SIZE,
            "action_size": ACTION_SIZE,
            "updates_per_call": args.updates_per_call,
            "persistent_compilation_cache": False,
            "repeats": args.repeats,
            "results": results,
        },
        out_dir=args.out_dir,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
