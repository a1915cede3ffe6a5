"""What a one-seed run's programs cost to build: seconds to trace and lower, and to compile, the training chunk and
the evaluation, built as the runner builds them for one seed (`runner.over_seeds`: the seed axis dropped) against
the same functions vmapped over a seed axis of size 1 (how every run was built before).

The two are measured in turns in one process, `--rounds` times, each round from fresh trainer functions with JAX's
caches cleared, so that neither reads the other's traces; the JSON holds every round's seconds and the ratios of
the medians (one-seed / vmapped).

    python benchmarks/compile_cost.py --rounds 2
    python benchmarks/compile_cost.py --task walker-walk --set agent.latent_dim=64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

if __package__ in (None, ""):  # run as a file path: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result
from mjx_iqrl import config, sharding
from mjx_iqrl.runner import SEED_AXIS, CompiledRun
from mjx_iqrl.training import make_train

SMALL = ("agent.latent_dim=32", "agent.mlp_dims=[64,64]", "agent.enc_mlp_dims=[64]", "train.num_envs=4")
"""The small agent of the CPU benchmarks."""

VARIANTS = ("one_seed", "vmapped")


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def build_seconds(cfg: config.Config, variant: str) -> dict[str, float]:
    """Trace-and-lower and compile seconds of the chunk and the evaluation, built fresh as `variant`: the runner's
    own programs, or the same trainer functions vmapped over the seed axis, with the runner's shardings."""
    jax.clear_caches()
    run = CompiledRun(cfg)
    chunk, evaluate = run.chunk, run.evaluate
    if variant == "vmapped":
        trainer = make_train(cfg, axis_name=SEED_AXIS)
        replicated = sharding.replicated(run.mesh)
        chunk = jax.jit(
            jax.vmap(trainer.train_chunk, axis_name=SEED_AXIS),
            in_shardings=(run.state_sharding,),
            out_shardings=(run.state_sharding, replicated),
            donate_argnums=0,
        )
        evaluate = jax.jit(jax.vmap(trainer.evaluate), out_shardings=replicated)
    keys = jax.ShapeDtypeStruct((1, 2), jnp.uint32, sharding=sharding.replicated(run.mesh))
    out = {}
    lowered, out["chunk_lower_s"] = _timed(lambda: chunk.lower(run.abstract_state))
    _, out["chunk_compile_s"] = _timed(lowered.compile)
    lowered, out["evaluate_lower_s"] = _timed(lambda: evaluate.lower(run.abstract_state.agent.policy_params, keys))
    _, out["evaluate_compile_s"] = _timed(lowered.compile)
    out["total_s"] = sum(out.values())
    return out


def main(argv: list[str] | None = None) -> Path:
    """Measures both variants in turns and writes benchmarks/results/compile_cost_<device>.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cartpole-swingup")
    parser.add_argument("--rounds", type=int, default=2, help="turns of both variants")
    parser.add_argument("--set", nargs="*", default=list(SMALL), help="config overrides (default: the small agent)")
    parser.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    cfg = config.compose([f"task={args.task}", *args.set, "num_seeds=1"])
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for i in range(args.rounds):
        # Alternate which variant goes first, so that a slow stretch of a shared machine does not favour one.
        for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
            rounds[variant].append(build_seconds(cfg, variant))
            print(f"round {i + 1} {variant}: " + ", ".join(f"{k} {v:.1f}" for k, v in rounds[variant][-1].items()))
    medians = {v: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for v, rows in rounds.items()}
    ratios = {k: medians["one_seed"][k] / medians["vmapped"][k] for k in medians["one_seed"]}
    print("one-seed / vmapped: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    payload = {"config": {"task": args.task, "overrides": args.set, "rounds": args.rounds}, "rounds": rounds}
    path = write_result(
        "compile_cost", {**payload, "median_s": medians, "ratio_one_seed_to_vmapped": ratios}, args.out_dir
    )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
