"""One compatibility function for brax 0.14.2 on JAX >= 0.10: `jax.device_put_replicated`.

brax 0.14.2's PPO and SAC trainers place their training state with `jax.device_put_replicated`, which JAX 0.10
removed (accessing it raises AttributeError). brax's git main already uses `jax.device_put` with a `NamedSharding`,
but no brax release has that fix yet. `ensure_device_put_replicated()` gives JAX the function back only where it is
missing; it changes nothing on a JAX that still has it. Drop this module once a brax release includes the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

_AXIS = "replicas"


def device_put_replicated(x: Any, devices: Sequence[Any]) -> Any:
    """Every leaf of `x` stacked once per device on a new leading axis, that axis split across `devices` (what
    `jax.pmap` takes as a replicated argument, as JAX's former `device_put_replicated` returned)."""
    devices = list(devices)
    sharding = NamedSharding(Mesh(np.asarray(devices), (_AXIS,)), P(_AXIS))

    def put(leaf: Any) -> jax.Array:
        leaf = jnp.asarray(leaf)
        return jax.device_put(jnp.broadcast_to(leaf[None], (len(devices), *leaf.shape)), sharding)

    return jax.tree.map(put, x)


def ensure_device_put_replicated() -> bool:
    """Sets `jax.device_put_replicated` where this JAX lacks it; True if it did, False if JAX has its own."""
    if hasattr(jax, "device_put_replicated"):
        return False
    jax.device_put_replicated = device_put_replicated
    return True
