"""Placing a run on several devices: the seed axis is sharded across devices, or, for a single seed, the env axis.

Seed sharding splits whole independent training states, so each device runs exactly the single-device program for
its seeds. Env sharding (num_seeds = 1) splits the envs, their replay columns and episode returns across devices
and replicates the agent; XLA inserts the collectives (the sampled batch is gathered, the update runs replicated).
With several hosts (`distributed=true`) the devices are the global ones from `jax.distributed`, and host values enter
the programs as global arrays (`from_host`), never as constants.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from mjx_iqrl.config import Config
from mjx_iqrl.errors import ConfigError

AXIS = "devices"


def make_mesh(devices: list | None = None) -> Mesh:
    """A one-dimensional mesh over `devices` (default: all, across hosts)."""
    return Mesh(np.asarray(devices or jax.devices()), (AXIS,))


def mode(cfg: Config, num_devices: int) -> str:
    """'seed' or 'env': which axis is split over `num_devices` (any of them works on one device)."""
    if cfg.num_seeds % num_devices == 0:
        return "seed"
    if cfg.num_seeds == 1 and cfg.train.num_envs % num_devices == 0:
        return "env"
    raise ConfigError(
        f"{num_devices} devices need num_seeds={cfg.num_seeds} divisible by {num_devices}, or num_seeds=1 and "
        f"train.num_envs={cfg.train.num_envs} divisible by {num_devices}"
    )


def state_shardings(abstract_state: Any, cfg: Config, mesh: Mesh) -> Any:
    """A NamedSharding for every leaf of the seed-vmapped TrainerState."""
    num_devices = mesh.devices.size
    if mode(cfg, num_devices) == "seed":
        return jax.tree.map(lambda _: NamedSharding(mesh, P(AXIS)), abstract_state)
    replicated = NamedSharding(mesh, P())
    shardings = jax.tree.map(lambda _: replicated, abstract_state)
    env_axis_1 = lambda tree: jax.tree.map(lambda _: NamedSharding(mesh, P(None, AXIS)), tree)  # [S, E, ...]
    env_axis_2 = lambda tree: jax.tree.map(lambda _: NamedSharding(mesh, P(None, None, AXIS)), tree)  # [S, T, E, ...]
    return shardings.replace(
        env=env_axis_1(abstract_state.env),
        episode_return=env_axis_1(abstract_state.episode_return),
        replay=shardings.replay.replace(data=env_axis_2(abstract_state.replay.data)),
    )


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole value."""
    return NamedSharding(mesh, P())


def from_host(value: Any, sharding: jax.sharding.Sharding) -> jax.Array:
    """A global array with `sharding` from a host value that every process holds whole (seed keys, step counts).

    Each process fills only its own devices' shards, so no process reads another's memory and nothing is a
    constant of a compiled program.
    """
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])
