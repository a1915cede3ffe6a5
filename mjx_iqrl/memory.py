"""Memory: what a run's training state needs on each device against what the device has (checked before anything
compiles), and what the process and its devices hold while it trains (in every chunk's record).

The estimate is the state alone (replay, agent, envs, keys) as it lies on one device after sharding: the chunk
updates it in place (its input is donated), so a configuration whose state does not fit cannot run, whatever the
program's temporaries. Devices that do not report their memory (CPUs) are not checked.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax

from mjx_iqrl.errors import ConfigError
from mjx_iqrl.faults import size


class StateBytes(NamedTuple):
    """Bytes of the training state on one device."""

    replay: int
    """The replay ring buffer's share."""
    other: int
    """Everything else: parameters, optimiser states, targets, env states, keys and counters."""

    @property
    def total(self) -> int:
        """All of it."""
        return self.replay + self.other


def _per_device(leaf: Any) -> int:
    """Bytes of the shard of a sharded abstract array on one device."""
    shape = leaf.sharding.shard_shape(leaf.shape) if getattr(leaf, "sharding", None) is not None else leaf.shape
    return math.prod(shape) * leaf.dtype.itemsize


def state_bytes(abstract_state: Any) -> StateBytes:
    """Per-device bytes of a seed-vmapped TrainerState given as sharded ShapeDtypeStructs."""
    replay = sum(_per_device(x) for x in jax.tree.leaves(abstract_state.replay))
    total = sum(_per_device(x) for x in jax.tree.leaves(abstract_state))
    return StateBytes(replay=replay, other=total - replay)


def device_bytes_limit(device: Any) -> int | None:
    """The memory JAX may allocate on `device` (`memory_stats()['bytes_limit']`), or None where it is not reported."""
    stats = device.memory_stats()
    return int(stats["bytes_limit"]) if stats and "bytes_limit" in stats else None


def check_fits(abstract_state: Any, devices: list) -> None:
    """A ConfigError if the training state is larger than the memory of this process's smallest device."""
    limits = [(limit, d) for d in devices if (limit := device_bytes_limit(d)) is not None]
    if not limits:
        return
    limit, device = min(limits, key=lambda item: item[0])
    need = state_bytes(abstract_state)
    if need.total > limit:
        raise ConfigError(
            f"the training state needs {size(need.total)} per device (replay {size(need.replay)}, parameters, "
            f"optimisers and envs {size(need.other)}) but {device} has {size(limit)}; reduce train.replay_capacity, "
            "train.num_envs or num_seeds, or spread the seeds over more devices"
        )


def host_rss_bytes() -> int:
    """Resident memory of this process."""
    import psutil

    return psutil.Process().memory_info().rss


def device_bytes_in_use(devices: list) -> int:
    """Bytes allocated on `devices` where they report it (`memory_stats()['bytes_in_use']`), else the bytes of the
    live JAX arrays on them (CPUs)."""
    reported = [d.memory_stats() for d in devices]
    if all(stats and "bytes_in_use" in stats for stats in reported):
        return sum(int(stats["bytes_in_use"]) for stats in reported)
    mine = set(devices)
    return sum(
        shard.data.nbytes
        for array in jax.live_arrays()
        if not array.is_deleted()
        for shard in array.addressable_shards
        if shard.device in mine
    )
