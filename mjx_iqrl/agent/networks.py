"""iQRL networks (REFERENCE.md 1.1-1.2): encoder + FSQ, residual latent dynamics, TD3 actor, critic ensemble, heads.

Every MLP is hidden layers of Linear -> LayerNorm -> Mish and a plain Linear output. Parameters live outside the
modules (flax.linen); `AgentNetworks` holds the static modules and exposes pure apply functions on parameter trees.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mjx_iqrl.agent import fsq
from mjx_iqrl.agent.config import AgentConfig

Params = Any
"""A flax parameter tree."""

LAYER_NORM_EPS = 1e-5
"""PyTorch's LayerNorm default."""


def _torch_uniform(fan_in: int) -> Callable[..., jax.Array]:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for nn.Linear weights and biases."""
    limit = 1.0 / np.sqrt(fan_in)

    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -limit, limit)

    return init


class Linear(nn.Module):
    """Dense layer initialised like PyTorch's nn.Linear.

    The reference calls an orthogonal initialiser on a parameter generator, which never matches nn.Linear and so
    does nothing: every reference network keeps PyTorch's default kaiming-uniform(a=sqrt(5)) weights, which is
    U(+-1/sqrt(fan_in)), and the same range for biases.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x @ kernel + bias."""
        init = _torch_uniform(x.shape[-1])
        kernel = self.param("kernel", init, (x.shape[-1], self.features))
        bias = self.param("bias", init, (self.features,))
        return x @ kernel + bias


class MLP(nn.Module):
    """Hidden layers of Linear -> LayerNorm -> Mish, then a plain Linear output."""

    hidden_dims: tuple[int, ...]
    out_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Applies the MLP to the last axis of x."""
        for width in self.hidden_dims:
            x = Linear(width)(x)
            x = nn.LayerNorm(epsilon=LAYER_NORM_EPS)(x)
            x = jax.nn.mish(x)
        return Linear(self.out_dim)(x)


@struct.dataclass
class WorldModelParams:
    """Parameters trained by the representation loss with one optimiser: encoder, dynamics and optional heads."""

    encoder: Params
    dynamics: Params
    reward: Params | None
    """Reward head, None unless cfg.use_reward_head."""
    projection: Params | None
    """Projection head, None unless cfg.use_projection."""


@dataclasses.dataclass(frozen=True, eq=False)
class AgentNetworks:
    """The static modules of one agent and pure functions of their parameters; build it with `make_networks`."""

    cfg: AgentConfig
    observation_size: int
    action_size: int
    action_low: np.ndarray
    """Lower action bounds, shape [action_size]."""
    action_high: np.ndarray
    """Upper action bounds, shape [action_size]."""

    @property
    def action_scale(self) -> np.ndarray:
        """Half-range of the actions, (high - low) / 2."""
        return (self.action_high - self.action_low) / 2.0

    @property
    def action_bias(self) -> np.ndarray:
        """Centre of the actions, (high + low) / 2."""
        return (self.action_high + self.action_low) / 2.0

    @functools.cached_property
    def encoder(self) -> MLP:
        """obs -> enc_mlp_dims -> latent_width (pre-quantisation)."""
        return MLP(self.cfg.enc_mlp_dims, self.cfg.latent_width)

    @functools.cached_property
    def dynamics(self) -> MLP:
        """[z, a] -> mlp_dims -> latent_width: the residual of the latent transition."""
        return MLP(self.cfg.mlp_dims, self.cfg.latent_width)

    @functools.cached_property
    def actor(self) -> MLP:
        """z -> mlp_dims -> action_size (pre-tanh)."""
        return MLP(self.cfg.mlp_dims, self.action_size)

    @functools.cached_property
    def critic(self) -> MLP:
        """[z, a] -> mlp_dims -> 1: one ensemble member (parameters are stacked over members)."""
        return MLP(self.cfg.mlp_dims, 1)

    @functools.cached_property
    def reward_head(self) -> MLP:
        """[z, a] -> mlp_dims -> 1."""
        return MLP(self.cfg.mlp_dims, 1)

    @functools.cached_property
    def projection(self) -> MLP:
        """z -> mlp_dims -> projection_width."""
        return MLP(self.cfg.mlp_dims, self.cfg.projection_width)

    # Initialisation.

    def _dummy(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        return (
            jnp.zeros((1, self.observation_size)),
            jnp.zeros((1, self.cfg.latent_width)),
            jnp.zeros((1, self.action_size)),
        )

    def init_encoder(self, key: jax.Array) -> Params:
        """Parameters of the online encoder (the target encoder starts as a copy)."""
        obs, _, _ = self._dummy()
        return self.encoder.init(key, obs)

    def init_dynamics(self, key: jax.Array) -> Params:
        """Parameters of the latent dynamics."""
        _, z, a = self._dummy()
        return self.dynamics.init(key, jnp.concatenate([z, a], axis=-1))

    def init_actor(self, key: jax.Array) -> Params:
        """Parameters of the actor."""
        _, z, _ = self._dummy()
        return self.actor.init(key, z)

    def init_critics(self, key: jax.Array) -> Params:
        """Parameters of all critics, stacked on a leading axis of size num_critics; each member has its own key."""
        _, z, a = self._dummy()
        keys = jax.random.split(key, self.cfg.num_critics)
        return jax.vmap(lambda k: self.critic.init(k, jnp.concatenate([z, a], axis=-1)))(keys)

    def init_reward_head(self, key: jax.Array) -> Params:
        """Parameters of the reward head."""
        _, z, a = self._dummy()
        return self.reward_head.init(key, jnp.concatenate([z, a], axis=-1))

    def init_projection(self, key: jax.Array) -> Params:
        """Parameters of the projection head (the target projection starts as a copy)."""
        _, z, _ = self._dummy()
        return self.projection.init(key, z)

    def init_world_model(self, key: jax.Array) -> WorldModelParams:
        """Encoder, dynamics and the heads the config switches on (None for the others)."""
        key_enc, key_dyn, key_rew, key_proj = jax.random.split(key, 4)
        return WorldModelParams(
            encoder=self.init_encoder(key_enc),
            dynamics=self.init_dynamics(key_dyn),
            reward=self.init_reward_head(key_rew) if self.cfg.use_reward_head else None,
            projection=self.init_projection(key_proj) if self.cfg.use_projection else None,
        )

    # Application.

    def encode(self, encoder_params: Params, obs: jax.Array) -> jax.Array:
        """z = FSQ(e(obs)), shape [..., latent_width]."""
        return fsq.quantize(self.encoder.apply(encoder_params, obs), self.cfg.fsq_levels)

    def next_latent(self, dynamics_params: Params, z: jax.Array, action: jax.Array) -> jax.Array:
        """z' = FSQ(z + d([z, a])): residual dynamics, re-quantised every step."""
        delta = self.dynamics.apply(dynamics_params, jnp.concatenate([z, action], axis=-1))
        return fsq.quantize(z + delta, self.cfg.fsq_levels)

    def policy(self, actor_params: Params, z: jax.Array) -> jax.Array:
        """Deterministic action tanh(pi(z)) * action_scale + action_bias."""
        return jnp.tanh(self.actor.apply(actor_params, z)) * self.action_scale + self.action_bias

    def clip_action(self, action: jax.Array) -> jax.Array:
        """Clips actions to [action_low, action_high]."""
        return jnp.clip(action, self.action_low, self.action_high)

    def reward(self, reward_params: Params, z: jax.Array, action: jax.Array) -> jax.Array:
        """Predicted reward, shape [...]."""
        return self.reward_head.apply(reward_params, jnp.concatenate([z, action], axis=-1))[..., 0]

    def project(self, projection_params: Params, z: jax.Array) -> jax.Array:
        """Projection of a latent for the consistency loss, shape [..., projection_width]."""
        return self.projection.apply(projection_params, z)

    def q_all(self, critic_params: Params, z: jax.Array, action: jax.Array) -> jax.Array:
        """Q-values of every member, shape [num_critics, ...]."""
        za = jnp.concatenate([z, action], axis=-1)
        return jax.vmap(self.critic.apply, in_axes=(0, None))(critic_params, za)[..., 0]

    def sample_members(self, key: jax.Array) -> jax.Array:
        """q_sample_size distinct member indices, uniformly at random (a fresh draw per call, like torch.randperm)."""
        return jax.random.choice(key, self.cfg.num_critics, (self.cfg.q_sample_size,), replace=False)

    def q_members(self, critic_params: Params, z: jax.Array, action: jax.Array, members: jax.Array) -> jax.Array:
        """Q-values of the given members only, shape [len(members), ...]; only those members are evaluated."""
        subset = jax.tree.map(lambda p: p[members], critic_params)
        return self.q_all(subset, z, action)

    def q_min(self, critic_params: Params, z: jax.Array, action: jax.Array, key: jax.Array) -> jax.Array:
        """Min over q_sample_size random distinct members (the TD target)."""
        return jnp.min(self.q_members(critic_params, z, action, self.sample_members(key)), axis=0)

    def q_mean(self, critic_params: Params, z: jax.Array, action: jax.Array, key: jax.Array) -> jax.Array:
        """Mean over q_sample_size random distinct members (the actor objective)."""
        return jnp.mean(self.q_members(critic_params, z, action, self.sample_members(key)), axis=0)


def make_networks(
    cfg: AgentConfig,
    observation_size: int,
    action_size: int,
    action_low: float | np.ndarray = -1.0,
    action_high: float | np.ndarray = 1.0,
) -> AgentNetworks:
    """Builds the static networks for the given observation/action sizes and action bounds (scalars or [A])."""
    if observation_size < 1 or action_size < 1:
        raise ValueError(f"observation_size={observation_size} and action_size={action_size} must be >= 1")
    low = np.broadcast_to(np.asarray(action_low, np.float32), (action_size,)).copy()
    high = np.broadcast_to(np.asarray(action_high, np.float32), (action_size,)).copy()
    if not np.all(high > low):
        raise ValueError(f"action bounds need high > low per dimension, got low={low.tolist()} high={high.tolist()}")
    return AgentNetworks(cfg, observation_size, action_size, low, high)
