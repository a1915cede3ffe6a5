"""Acting: the deterministic TD3 policy on the quantised online latent, with optional Gaussian exploration noise.

Needs only `PolicyParams` (encoder + actor) and the config, so a policy can be rebuilt from a checkpoint without any
training code (REFERENCE.md 1.6, "Exploration while acting" and "Evaluation").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import struct

from mjx_iqrl.agent import normalizer
from mjx_iqrl.agent.config import AgentConfig
from mjx_iqrl.agent.networks import AgentNetworks, Params, make_networks


@struct.dataclass
class PolicyParams:
    """The parameters acting needs: the online encoder, the actor, and the observation statistics when
    observations are normalised."""

    encoder: Params
    actor: Params
    obs_stats: normalizer.ObsStats | None = None
    """None unless AgentConfig.normalize_observations."""


def as_policy_params(params: Any) -> PolicyParams:
    """PolicyParams as given, or the `policy_params` of a training state."""
    return params if isinstance(params, PolicyParams) else params.policy_params


class Policy(NamedTuple):
    """Pure acting functions on batched observations [N, obs_dim]."""

    act: Callable[[Any, jax.Array, jax.Array, jax.Array | float], jax.Array]
    """act(params, obs, key, noise_std) -> clip(pi(z) + N(0, (action_scale * noise_std)^2), low, high)."""
    act_deterministic: Callable[[Any, jax.Array], jax.Array]
    """act_deterministic(params, obs) -> pi(z), for evaluation."""


def policy_from_networks(networks: AgentNetworks) -> Policy:
    """Acting functions for already-built networks."""

    def act_deterministic(params: Any, obs: jax.Array) -> jax.Array:
        """Deterministic action pi(FSQ(e(obs))), shape [N, action_size]."""
        p = as_policy_params(params)
        if p.obs_stats is not None:
            obs = normalizer.standardise(p.obs_stats, obs)
        with jax.default_matmul_precision(networks.cfg.matmul_precision):
            return networks.policy(p.actor, networks.encode(p.encoder, obs))

    def act(params: Any, obs: jax.Array, key: jax.Array, noise_std: jax.Array | float) -> jax.Array:
        """Exploration action with Gaussian noise of std action_scale * noise_std (noise_std may be traced)."""
        mean = act_deterministic(params, obs)
        noise = jax.random.normal(key, mean.shape, mean.dtype) * (networks.action_scale * noise_std)
        return networks.clip_action(mean + noise)

    return Policy(act=act, act_deterministic=act_deterministic)


def make_policy(
    cfg: AgentConfig,
    observation_size: int,
    action_size: int,
    action_low: float | np.ndarray = -1.0,
    action_high: float | np.ndarray = 1.0,
) -> Policy:
    """Acting functions from the config alone (e.g. to evaluate a checkpoint's PolicyParams)."""
    return policy_from_networks(make_networks(cfg, observation_size, action_size, action_low, action_high))
