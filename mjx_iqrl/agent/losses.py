"""iQRL losses as pure functions: `(networks, params..., inputs[, key]) -> (loss, aux_metrics)`.

The representation loss is the iQRL paper's latent-state consistency loss L_rep (Scannell et al. 2024; as coded in
the reference, REFERENCE.md 1.4, with the sign corrected); the RL losses are TD3's clipped double-Q target and
deterministic policy gradient (Fujimoto et al. 2018) with iQRL's random critic subsets (REFERENCE.md 1.6).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from mjx_iqrl.agent.batch import Batch, valid_mask
from mjx_iqrl.agent.networks import AgentNetworks, Params, WorldModelParams

COSINE_EPS = 1e-6
"""Norm floor of the cosine similarity (torch.nn.CosineSimilarity(eps=1e-6) in the reference)."""


@struct.dataclass
class LatentTransition:
    """What the TD3 losses see: stop-gradient latents of the online encoder and the n-step return pieces."""

    z: jax.Array
    """[B, latent_width]: FSQ(e(obs[:, 0]))."""
    action: jax.Array
    """[B, act_dim]: the action taken in obs[:, 0]."""
    nstep_reward: jax.Array
    """[B]: discounted n-step reward sum."""
    discount: jax.Array
    """[B]: gamma^m * (1 - terminated_{m-1})."""
    next_z: jax.Array
    """[B, latent_width]: FSQ(e(obs[:, m])), the bootstrap latent."""


def cosine_similarity(a: jax.Array, b: jax.Array, eps: float = COSINE_EPS) -> jax.Array:
    """a.b / (max(|a|, eps) * max(|b|, eps)) along the last axis, with finite gradients at a zero vector."""
    norm_a = jnp.sqrt(jnp.maximum(jnp.sum(a * a, axis=-1), eps * eps))
    norm_b = jnp.sqrt(jnp.maximum(jnp.sum(b * b, axis=-1), eps * eps))
    return jnp.sum(a * b, axis=-1) / (norm_a * norm_b)


def consistency_per_step(predicted: jax.Array, target: jax.Array, use_cosine: bool) -> jax.Array:
    """Per-step consistency term [B, H]: -cos(zhat, zbar) (maximises cosine; correction (a)) or mean((zhat-zbar)^2)."""
    if use_cosine:
        return -cosine_similarity(predicted, target)
    return jnp.mean(jnp.square(predicted - target), axis=-1)


def horizon_weighted_mean(per_step: jax.Array, valid: jax.Array, rho: float) -> jax.Array:
    """(1/H) sum_t rho^t mean_batch[valid_t * term_t] for [B, H] inputs (REFERENCE.md 1.4, "Aggregation")."""
    horizon = per_step.shape[-1]
    weights = rho ** jnp.arange(horizon, dtype=jnp.float32)
    return jnp.sum(weights * jnp.mean(valid * per_step, axis=0)) / horizon


def latent_rollout(
    networks: AgentNetworks, params: WorldModelParams, obs0: jax.Array, actions: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """zhat_0 = FSQ(e(o_0)), zhat_{t+1} = FSQ(zhat_t + d(zhat_t, a_t)); returns (zhat_{0..H-1}, zhat_{1..H}), [B, H, D].

    actions: [B, H, act_dim].
    """

    def step(z: jax.Array, action: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        z_next = networks.next_latent(params.dynamics, z, action)
        return z_next, (z, z_next)

    z0 = networks.encode(params.encoder, obs0)
    _, (z_in, z_out) = jax.lax.scan(step, z0, jnp.swapaxes(actions, 0, 1))
    return jnp.swapaxes(z_in, 0, 1), jnp.swapaxes(z_out, 0, 1)


def world_model_loss(
    networks: AgentNetworks,
    params: WorldModelParams,
    target_encoder: Params,
    target_projection: Params | None,
    batch: Batch,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """H-step latent-state consistency (paper L_rep; REFERENCE.md 1.4) plus the optional reward MSE.

    L = (1/H) sum_{t<H} rho^t mean_b[valid_t * -cos(zhat_{t+1}, zbar_{t+1})], zbar_{t+1} = sg(FSQ(e_target(o_{t+1}))),
    with valid_t = prod_{k<t}(1 - done_k). With the projection head, cos compares proj(zhat) and proj_target(zbar).
    Takes no key: nothing in it is random.
    """
    cfg = networks.cfg
    horizon = batch.action.shape[1]
    if horizon != cfg.horizon or batch.obs.shape[1] != horizon + 1:
        raise ValueError(
            f"batch windows have {horizon} actions and {batch.obs.shape[1]} observations; "
            f"cfg.horizon={cfg.horizon} needs {cfg.horizon} and {cfg.horizon + 1}"
        )
    valid = valid_mask(batch.done)
    target = jax.lax.stop_gradient(networks.encode(target_encoder, batch.obs[:, 1:]))
    z_in, predicted = latent_rollout(networks, params, batch.obs[:, 0], batch.action)
    if cfg.use_projection:
        predicted = networks.project(params.projection, predicted)
        target = jax.lax.stop_gradient(networks.project(target_projection, target))
    consistency = horizon_weighted_mean(consistency_per_step(predicted, target, cfg.use_cosine), valid, cfg.rho)
    aux = {"consistency_loss": consistency}
    loss = consistency
    if cfg.use_reward_head:
        reward_error = jnp.square(networks.reward(params.reward, z_in, batch.action) - batch.reward)
        aux["reward_loss"] = horizon_weighted_mean(reward_error, valid, cfg.rho)
        loss = loss + aux["reward_loss"]
    return loss, aux


def td_target(
    networks: AgentNetworks,
    target_critic: Params,
    target_actor: Params,
    transition: LatentTransition,
    key: jax.Array,
) -> jax.Array:
    """y = R_n + gamma^m (1 - terminated) min_{q_sample_size random} Q_target(z', a') (REFERENCE.md 1.6, TD3).

    a' = clip(pi_target(z') + clip(N(0, policy_noise^2), -noise_clip, noise_clip) * action_scale, low, high).
    """
    key_noise, key_members = jax.random.split(key)
    next_action = smoothed_target_action(networks, target_actor, transition.next_z, key_noise)
    next_q = networks.q_min(target_critic, transition.next_z, next_action, key_members)
    return transition.nstep_reward + transition.discount * next_q


def smoothed_target_action(
    networks: AgentNetworks, target_actor: Params, next_z: jax.Array, key: jax.Array
) -> jax.Array:
    """TD3 smoothing: clip(pi_target(z') + clip(eps, -noise_clip, noise_clip) * scale, low, high), eps ~ N(0, s^2)."""
    cfg = networks.cfg
    action = networks.policy(target_actor, next_z)
    noise = jax.random.normal(key, action.shape, action.dtype) * cfg.policy_noise
    noise = jnp.clip(noise, -cfg.noise_clip, cfg.noise_clip) * networks.action_scale
    return networks.clip_action(action + noise)


def critic_loss(
    networks: AgentNetworks,
    critic_params: Params,
    target_critic: Params,
    target_actor: Params,
    transition: LatentTransition,
    key: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean over ALL members and the batch of (Q_i(z, a) - sg(y))^2, y from `td_target` (REFERENCE.md 1.6)."""
    target = jax.lax.stop_gradient(td_target(networks, target_critic, target_actor, transition, key))
    q = networks.q_all(critic_params, transition.z, transition.action)
    loss = jnp.mean(jnp.square(q - target[None]))
    return loss, {"q_mean": jnp.mean(q), "td_target_mean": jnp.mean(target)}


def actor_loss(
    networks: AgentNetworks, actor_params: Params, critic_params: Params, z: jax.Array, key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """-mean_b mean_{q_sample_size random members} Q(z, pi(z)); the critics are held fixed (REFERENCE.md 1.6)."""
    action = networks.policy(actor_params, z)
    q = networks.q_mean(jax.lax.stop_gradient(critic_params), z, action, key)
    return -jnp.mean(q), {}
