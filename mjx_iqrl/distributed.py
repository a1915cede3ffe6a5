"""Several processes, one run: `jax.distributed` set up from the config or the environment, and what the host loop
needs across processes (which process writes, a stop that every process agrees on).

`distributed=true` starts `jax.distributed` before anything else touches JAX. Each of the coordinator address, the
number of processes and this process's index is the `multihost.*` config value when set, else the environment
variable (`JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`), else what JAX detects on a cluster
(SLURM, Open MPI, Kubernetes, Cloud TPU). The devices of every process then form one global mesh: each process runs
the same program on its own devices, XLA's collectives (gloo on CPUs, NCCL on GPUs) join them, and process 0 alone
writes logs. A process that dies is noticed by the others at their next collective (a one-line
`faults.ProcessLostError`), or after `multihost.heartbeat_timeout_s` by JAX's coordination service, which aborts
them. Processes that cannot all connect within `multihost.initialization_timeout_s` stop with JAX's own fatal error
too: its coordination client aborts the process, and there is no exception to translate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from mjx_iqrl.config import Config, MultihostOptions
from mjx_iqrl.errors import ConfigError
from mjx_iqrl.faults import first_line

ENVIRONMENT = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}
"""The environment variable read for each `multihost.*` field left unset."""


class ClusterSpec(NamedTuple):
    """What `jax.distributed.initialize` is given; None leaves a value to JAX's cluster detection."""

    coordinator_address: str | None
    num_processes: int | None
    process_id: int | None


def cluster_spec(options: MultihostOptions, environ: Mapping[str, str]) -> ClusterSpec:
    """Each value from the config, else from its environment variable, else None; a bad number is a ConfigError."""
    values: dict[str, str | int | None] = {}
    for field, variable in ENVIRONMENT.items():
        value = getattr(options, field)
        if value is None and environ.get(variable, "") != "":
            value = environ[variable]
            if field != "coordinator_address":
                if not value.strip().isdigit():
                    raise ConfigError(f"{variable}={value!r} must be a non-negative integer")
                value = int(value)
        values[field] = value
    return ClusterSpec(**values)


def initialize(cfg: Config) -> None:
    """Joins this process to the others of a `distributed=true` run (no-op otherwise, or if already joined)."""
    if not cfg.distributed or jax.distributed.is_initialized():
        return
    spec = cluster_spec(cfg.multihost, os.environ)
    missing = [f"multihost.{k} or ${ENVIRONMENT[k]}" for k, v in spec._asdict().items() if v is None]
    try:
        jax.distributed.initialize(
            coordinator_address=spec.coordinator_address,
            num_processes=spec.num_processes,
            process_id=spec.process_id,
            initialization_timeout=cfg.multihost.initialization_timeout_s,
            heartbeat_timeout_seconds=cfg.multihost.heartbeat_timeout_s,
        )
    except (ValueError, TypeError) as err:  # raised by JAX before connecting: a value is missing or inconsistent
        hint = f" (not set: {', '.join(missing)}, and no SLURM, Open MPI or Kubernetes job was detected)"
        raise ConfigError(f"distributed=true: {err}{hint if missing else ''}") from None
    except RuntimeError as err:  # JAX already ran something in this process (e.g. a Python session's earlier work)
        raise ConfigError(f"distributed=true must be set up before JAX runs anything: {first_line(err)}") from None


def is_primary() -> bool:
    """Whether this process writes the logs, the run's files and the console output (process 0)."""
    return jax.process_index() == 0


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is true on any of them (a collective: every process must call it)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag, np.int32))))


def gather(tree: Any) -> Any:
    """The global value of every array in `tree` as host numpy arrays, on every process (a collective when there
    are several processes: every process must call it)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def barrier(name: str) -> None:
    """Waits until every process reaches the barrier `name` (no-op in a single-process run)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
