"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4: compares, after a warm-up and a learning chunk,
(a) 4 seeds sharded over 4 devices with the same 4 seeds on one device, (b) each of those seeds with a separate
single-seed run with the same key, (c) one seed with its 4 envs sharded over 4 devices with the same run on one
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


def two_chunks(compiled: CompiledRun, cfg: config.Config, keys) -> tuple[dict, list]:
    state = compiled.init(keys)
    for _ in range(2):
        state, metrics = compiled.chunk(state)
    return jax.device_get(metrics), [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state.agent))]


def max_diff(a, b) -> float:
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    devices = jax.devices()
    cfg4, cfg1 = config.compose([*SMALL, "num_seeds=4"]), config.compose(SMALL)
    sharded_m, sharded_p = two_chunks(CompiledRun(cfg4, devices=devices), cfg4, seed_keys(cfg4))
    one_m, one_p = two_chunks(CompiledRun(cfg4, devices=devices[:1]), cfg4, seed_keys(cfg4))
    single = CompiledRun(cfg1, devices=devices[:1])
    per_seed = []
    for i in range(4):
        cfg_i = config.compose([*SMALL, f"seed={cfg1.seed + i}"])
        m, p = two_chunks(single, cfg_i, seed_keys(cfg_i))
        per_seed.append(max_diff([x[i] for x in one_p], [x[0] for x in p]))
        per_seed.append(abs(float(one_m["train/critic_loss"][i]) - float(m["train/critic_loss"][0])))
    env_m, env_p = two_chunks(CompiledRun(cfg1, devices=devices), cfg1, seed_keys(cfg1))
    single_m, single_p = two_chunks(single, cfg1, seed_keys(cfg1))
    out = {
        "devices": len(devices),
        "seed_sharding": max(max_diff(sharded_p, one_p), max_diff(list(sharded_m.values()), list(one_m.values()))),
        "vmap_vs_separate": max(per_seed),
        "env_sharding": max_diff(env_p, single_p),
        "env_sharding_critic_loss": abs(float(env_m["train/critic_loss"][0]) - float(single_m["train/critic_loss"][0])),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
