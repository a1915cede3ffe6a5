"""Where an iQRL update's time goes: its FLOPs against the device's measured matmul peak, each part timed alone,
and how many operations XLA compiles it into.

Per agent size and batch size, on the agent as the trainer builds it (`make_training_agent`):
- `flops`: XLA's cost analysis of one compiled update (`compiled.cost_analysis()`); with the measured seconds per
  update this gives the achieved FLOP/s and its fraction of the peak, a float32 matmul of `--peak-n` timed in
  the same run. XLA counts the body of a loop once, not once per trip: the H-step latent rollout, when it is a
  `lax.scan` that XLA keeps as a loop, is undercounted by a factor of up to H (an unrolled rollout is counted in
  full; measured on CPU: 0.171 against 0.265 GFLOP per update of the small agent at batch 256);
- `parts_ms`: each part of the update (`Agent.parts`) timed alone under jit, K times per call so that dispatch is
  amortised: replay sampling, the world-model step (encoder/dynamics loss with its H-step rollout, AdamW, EMA),
  the RL inputs (online-encoder latents, n-step pieces), the critic step (TD target, ensemble loss, Adam,
  Polyak) and the actor step (loss on the critics, Adam, Polyak); next to them the whole update and the update
  loop a chunk runs (sampling included);
- `hlo`: the compiled update's instructions, fusions and the entry computation's operations (on a GPU each of
  those is at least one kernel launch).

    python benchmarks/update_cost.py --sizes small paper --batch-sizes 256 1024
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

if __package__ in (None, ""):  # run as a file path: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs
from benchmarks.common import write_result
from benchmarks.update_throughput import synthetic_replay
from mjx_iqrl import config, replay
from mjx_iqrl.training import make_training_agent, make_update_loop

SIZES = {
    "paper": (),
    "small": ("agent.latent_dim=32", "agent.mlp_dims=[64,64]", "agent.enc_mlp_dims=[64]"),
    "tiny": ("agent.latent_dim=8", "agent.mlp_dims=[16]", "agent.enc_mlp_dims=[16]", "agent.horizon=2"),
}
"""Agent sizes by name: the reference's widths, the small ones of the CPU benchmarks, and a smoke size."""


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall seconds of `fn()` (blocked until ready) over `repeats` calls, after one warm-up call."""
    jax.block_until_ready(fn())
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def matmul_peak(n: int, repeats: int) -> dict[str, float]:
    """FLOP/s of an [n, n] x [n, n] float32 matmul on the default device (the arithmetic limit an update is held
    to)."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    seconds = _median_seconds(lambda: matmul(a), repeats)
    return {"n": n, "seconds": seconds, "flops_per_s": 2.0 * n**3 / seconds}


def hlo_counts(compiled: Any) -> dict[str, int]:
    """Instructions, fusion instructions and entry-computation instructions of a compiled program's HLO."""
    text = compiled.as_text()
    instruction = re.compile(r"^\s*(ROOT )?%\S+ = ")
    total = fusions = entry = 0
    in_entry = False
    for line in text.splitlines():
        if line.startswith("ENTRY "):
            in_entry = True
        elif line.startswith("}"):
            in_entry = False
        if instruction.match(line):
            total += 1
            fusions += " fusion(" in line
            entry += in_entry
    return {"instructions": total, "fusions": fusions, "entry_instructions": entry}


def _repeat(part: Callable[[Any, jax.Array], Any], k: int) -> Callable[[Any, jax.Array], Any]:
    """A jitted function carry, key -> carry that applies `part` k times, each result feeding the next."""

    def loop(carry: Any, key: jax.Array) -> Any:
        return jax.lax.fori_loop(0, k, lambda i, c: part(c, jax.random.fold_in(key, i)), carry)

    return jax.jit(loop)


def measure(overrides: Sequence[str], batch_size: int, k: int, repeats: int, peak: float) -> dict[str, Any]:
    """The cost figures of one agent size at one batch size (see the module docstring)."""
    cfg = config.compose([*overrides, f"train.batch_size={batch_size}"])
    task_env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
    agent = make_training_agent(cfg, task_env)
    horizon = cfg.agent.horizon
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), 4)
    state = jax.jit(agent.init)(keys[0])
    length = max(10 * batch_size, 5000)
    buffer = jax.jit(lambda key: synthetic_replay(key, length, task_env.observation_size, task_env.action_size))(
        keys[1]
    )
    batch = jax.jit(lambda key: replay.sample(buffer, key, batch_size, horizon))(keys[2])

    update = jax.jit(agent.update)
    start = time.perf_counter()
    compiled = update.lower(state, batch, keys[3]).compile()
    compile_s = time.perf_counter() - start
    flops = float(compiled.cost_analysis().get("flops", float("nan")))

    parts = agent.parts
    transition = jax.jit(parts.rl_inputs)(state.world_model.encoder, batch)

    def world_model(s, key):
        w = parts.world_model_step(s, batch)
        return s.replace(
            world_model=w.step.params, world_model_opt_state=w.step.opt_state, target_encoder=w.target_encoder
        )

    def rl_inputs(s, key):
        t = parts.rl_inputs(s.world_model.encoder, batch)
        return s.replace(last_actor_loss=s.last_actor_loss + jnp.sum(t.z) + jnp.sum(t.next_z))

    def critic(s, key):
        c = parts.critic_step(s, transition, key)
        return s.replace(critic=c.step.params, critic_opt_state=c.step.opt_state, target_critic=c.target_critic)

    def actor(s, key):
        a = parts.actor_step(s, s.critic, transition.z, key)
        return s.replace(actor=a.actor, target_actor=a.target_actor, actor_opt_state=a.opt_state)

    def sample(s, key):
        b = replay.sample(buffer, key, batch_size, horizon)
        return s.replace(last_actor_loss=s.last_actor_loss + jnp.sum(b.obs) + jnp.sum(b.action))

    def whole(s, key):
        return agent.update(s, batch, key)[0]

    timings = {}
    for name, part in [
        ("sample", sample),
        ("world_model", world_model),
        ("rl_inputs", rl_inputs),
        ("critic", critic),
        ("actor", actor),
        ("update", whole),
    ]:
        repeated = _repeat(part, k)
        timings[name] = 1000.0 * _median_seconds(lambda r=repeated: r(state, keys[3]), repeats) / k
    loop = jax.jit(make_update_loop(agent, batch_size, horizon))
    count, first = jnp.asarray(k, jnp.int32), jnp.asarray(0, jnp.int32)
    timings["update_loop"] = 1000.0 * _median_seconds(lambda: loop(state, buffer, count, first, keys[3]), repeats) / k
    # The actor steps every actor_update_freq-th update: its share of an update's time is this fraction of it.
    per_update = timings["update"] / 1000.0
    return {
        "batch_size": batch_size,
        "compile_s": compile_s,
        "flops": flops,
        "ms_per_update": timings["update"],
        "achieved_flops_per_s": flops / per_update,
        "fraction_of_peak": flops / per_update / peak,
        "parts_ms": timings,
        "actor_update_freq": cfg.agent.actor_update_freq,
        "parts_sum_ms": timings["sample"]
        + timings["world_model"]
        + timings["rl_inputs"]
        + timings["critic"]
        + timings["actor"] / cfg.agent.actor_update_freq,
        "hlo": hlo_counts(compiled),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measures every (size, batch size), prints a table and writes benchmarks/results/<name>_<device>.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cheetah-run", help="task whose shapes (observation, action) are used")
    parser.add_argument("--sizes", nargs="+", default=["small", "paper"], choices=sorted(SIZES))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--updates-per-call", type=int, default=20, help="K: repetitions of a part per timed call")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure (median reported)")
    parser.add_argument("--peak-n", type=int, default=2048, help="size of the matmul that measures the peak")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides applied to every size")
    parser.add_argument("--name", default="update_cost", help="result file stem")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    args = parser.parse_args(argv)
    if min([*args.batch_sizes, args.updates_per_call, args.repeats, args.peak_n]) < 1:
        parser.error("sizes, --updates-per-call, --repeats and --peak-n must be positive")
    jax.config.update("jax_enable_compilation_cache", False)  # compile seconds must be this run's
    peak = matmul_peak(args.peak_n, args.repeats)
    print(f"device {jax.devices()[0]}: float32 matmul peak {peak['flops_per_s'] / 1e9:.1f} GFLOP/s (n={args.peak_n})")
    rows = []
    head = f"{'size':>6} {'batch':>6} {'GFLOP':>8} {'ms/upd':>8} {'GFLOP/s':>8} {'of peak':>8}"
    print(head + " parts (ms): sample world_model rl_inputs critic actor | sum, update_loop; HLO fusions")
    for size in args.sizes:
        overrides = [f"task={args.task}", "logger.progress=false", *SIZES[size], *args.set]
        for batch_size in args.batch_sizes:
            row = {
                "size": size,
                **measure(overrides, batch_size, args.updates_per_call, args.repeats, peak["flops_per_s"]),
            }
            rows.append(row)
            p = row["parts_ms"]
            print(
                f"{size:>6} {batch_size:>6} {row['flops'] / 1e9:8.3f} {row['ms_per_update']:8.2f} "
                f"{row['achieved_flops_per_s'] / 1e9:8.2f} {row['fraction_of_peak']:8.1%} "
                f"{p['sample']:.2f} {p['world_model']:.2f} {p['rl_inputs']:.2f} {p['critic']:.2f} {p['actor']:.2f}"
                f" | {row['parts_sum_ms']:.2f}, {p['update_loop']:.2f}; {row['hlo']['fusions']}",
                flush=True,
            )
    payload = {
        "task": args.task,
        "sizes": {s: list(SIZES[s]) for s in args.sizes},
        "overrides": args.set,
        "updates_per_call": args.updates_per_call,
        "repeats": args.repeats,
        "peak": peak,
        "results": rows,
    }
    path = write_result(args.name, payload, args.out_dir)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
