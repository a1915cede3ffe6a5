"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4: compares, after a warm-up and a learning chunk,
(a) 8 seeds in one program sharded over 4 devices (2 vmapped seeds per device) with 8 separate single-seed,
single-device runs with the same keys, (b) one seed with its 4 envs sharded over 4 devices with the same run on one
device. Prints a JSON object of largest absolute differences (and the device count)."""

from __future__ import annotations

import json
import sys

import jax
import numpy as np

from mjx_iqrl import config
from mjx_iqrl.runner import CompiledRun, seed_keys

SMALL = [
    "task=pendulum-swingup",
    "train.num_envs=4",
    "train.batch_size=16",
    "train.warmup_env_steps=400",
    "train.chunk_env_steps=400",
    "train.replay_capacity=4000",
    "agent.latent_dim=8",
    "agent.mlp_dims=[32]",
    "agent.enc_mlp_dims=[32]",
    "agent.num_critics=2",
]
SEEDS = 8


def two_chunks(compiled: CompiledRun, keys) -> tuple[dict, list]:
    """Metrics of the second chunk and every agent parameter after it."""
    state = compiled.init(keys)
    for _ in range(2):
        state, metrics = compiled.chunk(state)
    return jax.device_get(metrics), [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state.agent))]


def max_diff(a, b) -> float:
    """Largest absolute difference between two lists of arrays."""
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    """Prints the comparison as one JSON line."""
    devices = jax.devices()
    cfg_many, cfg1 = config.compose([*SMALL, f"num_seeds={SEEDS}"]), config.compose(SMALL)
    sharded_m, sharded_p = two_chunks(CompiledRun(cfg_many, devices=devices), seed_keys(cfg_many))
    single = CompiledRun(cfg1, devices=devices[:1])
    params, losses = [], []
    for i in range(SEEDS):
        m, p = two_chunks(single, seed_keys(config.compose([*SMALL, f"seed={cfg1.seed + i}"])))
        params.append(max_diff([x[i] for x in sharded_p], [x[0] for x in p]))
        losses.append(abs(float(sharded_m["train/critic_loss"][i]) - float(m["train/critic_loss"][0])))
    env_m, env_p = two_chunks(CompiledRun(cfg1, devices=devices), seed_keys(cfg1))
    single_m, single_p = two_chunks(single, seed_keys(cfg1))
    out = {
        "devices": len(devices),
        "seeds_per_device": SEEDS // len(devices),
        "sharded_seeds_vs_separate": max(params),
        "sharded_seeds_vs_separate_critic_loss": max(losses),
        "env_sharding": max_diff(env_p, single_p),
        "env_sharding_critic_loss": abs(float(env_m["train/critic_loss"][0]) - float(single_m["train/critic_loss"][0])),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
