"""Flat memory over a long run: host RSS and device memory in use, sampled after every chunk of a real run.

Trains a tiny configuration (`mjx_iqrl.runner.run`, with its evaluations and logging) for many short chunks; each
chunk's record carries `perf/host_rss_bytes` and `perf/device_bytes_in_use` (the devices' own count where they
report one, else the bytes of live JAX arrays: CPUs). After the first `--settle` chunks (compilation, the first
evaluation, allocator warm-up) memory must stay flat: the JSON gives, for both, the value at the settle point, the
largest rise above it after that, and the least-squares slope in bytes per chunk over the rest of the run. A second
run also checkpoints every `--every` chunks and gives what each checkpoint adds to the host's memory.

    python benchmarks/memory.py --chunks 250
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

TINY = (
    "task=pendulum-swingup",
    "train.num_envs=4",
    "train.batch_size=16",
    "train.warmup_env_steps=400",
    "train.chunk_env_steps=40",
    "train.replay_capacity=8000",
    "agent.horizon=2",
    "agent.latent_dim=8",
    "agent.mlp_dims=[16]",
    "agent.enc_mlp_dims=[16]",
    "agent.num_critics=2",
    "eval.episodes=2",
    "logger.progress=false",
)
"""Chunks of 40 env steps (5 agent steps of 4 envs, 20 updates once learning starts): many chunks, little time."""

SERIES = {"host_rss": "perf/host_rss_bytes", "device_in_use": "perf/device_bytes_in_use"}


def summarize(values: list[float], settle: int) -> dict:
    """The value at chunk `settle`, the largest rise above it afterwards, and the slope (bytes per chunk) after it."""
    after = np.asarray(values[settle:], np.float64)
    slope = float(np.polyfit(np.arange(after.size), after, 1)[0]) if after.size > 1 else 0.0
    return {
        "at_settle_bytes": float(after[0]),
        "max_rise_bytes": float(after.max() - after[0]),
        "last_minus_settle_bytes": float(after[-1] - after[0]),
        "slope_bytes_per_chunk": slope,
    }


def measure(chunks: int, settle: int, every: int, checkpoint_every: int, overrides: list[str]) -> dict:
    """Runs `chunks` chunks (an evaluation every `every`, a checkpoint every `checkpoint_every` chunks, 0: only at
    the end) and summarises memory."""
    per_chunk = config.compose([*TINY, *overrides]).train.chunk_env_steps
    cfg = config.compose(
        [
            *TINY,
            f"train.total_env_steps={chunks * per_chunk}",
            f"eval.every_env_steps={every * per_chunk}",
            f"checkpoint.every_env_steps={checkpoint_every * per_chunk}",
            *overrides,
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        records = run(cfg, run_dir=Path(tmp) / "run").records[1:]  # the chunks' records (not step 0's)
    samples = {name: [r[key] for r in records] for name, key in SERIES.items()}
    out = {
        "chunks": len(records),
        "settle_chunks": settle,
        "checkpoint_every_chunks": checkpoint_every,
        **{name: summarize(values, settle) for name, values in samples.items()},
        "samples": samples,
    }
    if checkpoint_every:
        # Record i is chunk i + 1's; a checkpoint is written after its chunk's record, so it shows in the next one.
        rss = np.asarray(samples["host_rss"], np.float64)
        steps = range(settle, len(rss) - 1)
        saved = [rss[i + 1] - rss[i] for i in steps if (i + 1) % checkpoint_every == 0]
        others = [rss[i + 1] - rss[i] for i in steps if (i + 1) % checkpoint_every != 0]
        out["host_rss_per_checkpoint_bytes"] = float(np.mean(saved)) if saved else 0.0
        out["host_rss_rise_without_checkpoints_bytes"] = float(np.sum(others))
    return out


def main(argv: list[str] | None = None) -> Path:
    """Runs the measurement, prints the summary, writes benchmarks/results/memory_<device>.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=250, help="chunks to train (at least 200 for the claim)")
    parser.add_argument("--settle", type=int, default=20, help="chunks before memory must be flat")
    parser.add_argument("--every", type=int, default=25, help="chunks between evaluations (and checkpoints, run 2)")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)
    results = [measure(args.chunks, args.settle, args.every, ckpt, args.set) for ckpt in (0, args.every)]
    for result in results:
        every = result["checkpoint_every_chunks"]
        print(f"checkpoints every {every} chunks:" if every else "checkpoints at the end only:")
        for name in SERIES:
            s = result[name]
            print(
                f"  {name}: {s['at_settle_bytes'] / 2**20:.1f} MiB after {args.settle} chunks, largest rise after "
                f"that {s['max_rise_bytes'] / 2**20:.2f} MiB, slope {s['slope_bytes_per_chunk'] / 1024:.2f} KiB/chunk"
            )
        if "host_rss_per_checkpoint_bytes" in result:
            print(f"  host_rss per checkpoint: {result['host_rss_per_checkpoint_bytes'] / 1024:.0f} KiB")
    settings = {"overrides": [*TINY, *args.set], "chunks": args.chunks, "settle": args.settle, "every": args.every}
    path = write_result("memory", {"config": settings, "results": results}, args.out_dir)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
