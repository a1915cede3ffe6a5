"""Observation normalisation (`AgentConfig.normalize_observations`): the running mean and variance of every
observation collected, and observations standardised with them before the encoder, as brax's SAC and PPO do.

brax's own statistics (`brax.training.acme.running_statistics`) are made for its pmap trainers: a 64-bit count as
a pair of uint32 leaves, Python-float and enum fields, shape validation. Here the statistics live in the vmapped,
sharded and checkpointed training state, so they are three float32 arrays updated with the same parallel Welford
formula (Chan et al. 1979), and the std is clipped to brax's [1e-6, 1e6]. The replay keeps raw observations; an
update standardises its batch with the statistics of that moment, acting and evaluation with the policy's copy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

STD_RANGE = (1e-6, 1e6)
"""Clip of the standard deviation (brax's defaults)."""


@struct.dataclass
class ObsStats:
    """Running statistics of the observations seen so far."""

    count: jax.Array
    """float32 number of observations."""
    mean: jax.Array
    """[obs_dim] mean."""
    m2: jax.Array
    """[obs_dim] sum of squared deviations from the mean."""


def init(observation_size: int) -> ObsStats:
    """Statistics of no observation yet: standardising is the identity until the first update."""
    zeros = jnp.zeros((observation_size,), jnp.float32)
    return ObsStats(count=jnp.zeros((), jnp.float32), mean=zeros, m2=zeros)


def update(stats: ObsStats, obs: jax.Array) -> ObsStats:
    """The statistics after also seeing the observations `obs` [N, obs_dim]."""
    obs = obs.reshape(-1, stats.mean.shape[-1]).astype(jnp.float32)
    n = jnp.asarray(obs.shape[0], jnp.float32)
    batch_mean = jnp.mean(obs, axis=0)
    batch_m2 = jnp.sum(jnp.square(obs - batch_mean), axis=0)
    count = stats.count + n
    delta = batch_mean - stats.mean
    return ObsStats(
        count=count,
        mean=stats.mean + delta * (n / count),
        m2=stats.m2 + batch_m2 + jnp.square(delta) * (stats.count * n / count),
    )


def std(stats: ObsStats) -> jax.Array:
    """The population standard deviation, clipped to STD_RANGE (1 before any observation)."""
    variance = jnp.where(stats.count > 0, stats.m2 / jnp.maximum(stats.count, 1.0), 1.0)
    return jnp.clip(jnp.sqrt(variance), *STD_RANGE)


def standardise(stats: ObsStats, obs: jax.Array) -> jax.Array:
    """(obs - mean) / std (any leading axes)."""
    return (obs - stats.mean) / std(stats)
