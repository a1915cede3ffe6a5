"""The iQRL agent: training state, optimisers and one jittable update (REFERENCE.md 1.5), built by `make_agent`.

Metrics of `update` (float32 scalars): encoder_loss (consistency + optional reward), consistency_loss,
reward_loss (only with the reward head), critic_loss, q_mean (all critics on the batch), td_target_mean,
actor_loss (the most recent actor step's loss, see `TrainState`), actor_updated (1.0 when this update stepped the
actor), encoder_grad_norm / critic_grad_norm / actor_grad_norm (raw gradient global norms, before clipping),
fsq_code_usage (fraction of each group's codebook used by the batch's latents, averaged over groups; only with
cfg.log_code_usage) and latent_srank (effective rank of the [B, latent_width] latent batch; only with
cfg.log_latent_rank).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mjx_iqrl.agent import fsq, losses, normalizer
from mjx_iqrl.agent.batch import Batch, nstep_return
from mjx_iqrl.agent.config import AgentConfig
from mjx_iqrl.agent.diagnostics import effective_rank
from mjx_iqrl.agent.networks import AgentNetworks, Params, WorldModelParams, make_networks
from mjx_iqrl.agent.policy import PolicyParams, policy_from_networks

Metrics = dict[str, jax.Array]

WORLD_MODEL_METRICS = ("encoder_loss", "consistency_loss", "reward_loss", "encoder_grad_norm")
"""Metrics of the world-model step: 0 in an update that skips it (`enc_update_freq` > 1); `world_model_updated`
(1.0 or 0.0) weighs them, so sum(metric) / sum(world_model_updated) is their mean over the steps taken."""


@struct.dataclass
class TrainState:
    """Everything one agent's update reads and writes.

    `last_actor_loss` / `last_actor_grad_norm` hold the values of the most recent actor step, so the `actor_loss`
    metric of an update without an actor step repeats the last real one instead of a meaningless 0; averaging the
    metric over many updates then gives a (slightly lagged) mean actor loss. `actor_updated` (1.0 or 0.0) in the
    metrics allows the exact weighted mean sum(actor_loss * actor_updated) / sum(actor_updated).
    """

    world_model: WorldModelParams
    """Online encoder, dynamics and optional heads."""
    target_encoder: Params
    """Momentum (EMA, enc_tau) copy of the encoder that produces the consistency targets."""
    target_projection: Params | None
    """EMA copy of the projection head; None unless cfg.use_projection."""
    actor: Params
    target_actor: Params
    """Polyak (tau) copy of the actor used for the TD target."""
    critic: Params
    """All critics, stacked on a leading num_critics axis."""
    target_critic: Params
    """Polyak (tau) copy of the critics."""
    world_model_opt_state: optax.OptState
    """clip_by_global_norm + AdamW state of the world model."""
    critic_opt_state: optax.OptState
    actor_opt_state: optax.OptState
    step: jax.Array
    """int32 number of updates done so far."""
    last_actor_loss: jax.Array
    """float32 loss of the most recent actor step (0 before the first)."""
    last_actor_grad_norm: jax.Array
    """float32 gradient norm of the most recent actor step (0 before the first)."""
    obs_stats: normalizer.ObsStats | None = None
    """Running observation statistics; None unless cfg.normalize_observations."""

    @property
    def policy_params(self) -> PolicyParams:
        """The subset acting needs: online encoder, actor (and the observation statistics)."""
        return PolicyParams(encoder=self.world_model.encoder, actor=self.actor, obs_stats=self.obs_stats)


class GradientStep(NamedTuple):
    """Result of one optimiser step."""

    params: Params
    opt_state: optax.OptState
    loss: jax.Array
    aux: dict[str, jax.Array]
    grad_norm: jax.Array
    """Global norm of the raw (unclipped) gradient."""


def gradient_step(
    loss_fn: Callable[..., tuple[jax.Array, dict[str, jax.Array]]],
    optimizer: optax.GradientTransformation,
    params: Params,
    opt_state: optax.OptState,
    *loss_args: Any,
) -> GradientStep:
    """value_and_grad of loss_fn(params, *loss_args) w.r.t. params, then one optimiser update."""
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, *loss_args)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return GradientStep(optax.apply_updates(params, updates), opt_state, loss, aux, optax.tree.norm(grads))


class _ActorStep(NamedTuple):
    actor: Params
    target_actor: Params
    opt_state: optax.OptState
    loss: jax.Array
    grad_norm: jax.Array


class WorldModelStep(NamedTuple):
    """Result of the representation step: the world model's gradient step and the momentum targets after it."""

    step: GradientStep
    target_encoder: Params
    target_projection: Params | None


class CriticStep(NamedTuple):
    """Result of the critic step: its gradient step and the Polyak target after it."""

    step: GradientStep
    target_critic: Params


class UpdateParts(NamedTuple):
    """The parts of one update, each a pure function, composed in this order by `Agent.update` (and timed alone
    by `benchmarks/update_cost.py`)."""

    world_model_step: Callable[[TrainState, Batch], WorldModelStep]
    """world_model_step(state, batch): encoder/dynamics loss with its H-step rollout, one AdamW step, the EMA."""
    rl_inputs: Callable[[Params, Batch], Any]
    """rl_inputs(encoder, batch) -> LatentTransition: stop-gradient latents of the online encoder, n-step pieces."""
    critic_step: Callable[[TrainState, Any, jax.Array], CriticStep]
    """critic_step(state, transition, key): the TD target, the ensemble's loss, one Adam step, the Polyak target."""
    actor_step: Callable[[TrainState, Params, jax.Array, jax.Array], _ActorStep]
    """actor_step(state, critic_params, z, key): the actor's loss on the critics, one Adam step, its Polyak target."""


class Agent(NamedTuple):
    """Pure functions of one iQRL agent; all are jittable, scannable and vmappable over seeds.

    Under vmap over seeds the actor's lax.cond becomes a select when its predicate is per-seed state, which computes
    the actor step on every update and discards it on the skipped ones; a caller that vmaps seeds passes the update
    index unbatched (`step`), which keeps it a branch.
    """

    init: Callable[[jax.Array], TrainState]
    """init(key) -> TrainState."""
    update: Callable[..., tuple[TrainState, Metrics]]
    """update(train_state, batch, key, step=None) -> (train_state, scalar metrics); `step` is the update's index
    (train_state.step when None), which decides whether the delayed actor steps."""
    act: Callable[[Any, jax.Array, jax.Array, jax.Array | float], jax.Array]
    """act(params, obs [N, obs_dim], key, noise_std) -> exploration actions; params: PolicyParams or TrainState."""
    act_deterministic: Callable[[Any, jax.Array], jax.Array]
    """act_deterministic(params, obs [N, obs_dim]) -> evaluation actions."""
    observe: Callable[[TrainState, jax.Array], TrainState]
    """observe(train_state, obs [N, obs_dim]) -> train_state with the observation statistics updated (the state
    itself unless cfg.normalize_observations)."""
    networks: AgentNetworks
    """The static networks (modules and apply functions)."""
    parts: UpdateParts
    """The update's parts (what `update` composes)."""


def make_agent(
    cfg: AgentConfig,
    observation_size: int,
    action_size: int,
    action_low: float | np.ndarray = -1.0,
    action_high: float | np.ndarray = 1.0,
) -> Agent:
    """Builds the agent's pure init/update/act functions for the given sizes and action bounds (scalars or [A])."""
    networks = make_networks(cfg, observation_size, action_size, action_low, action_high)
    world_model_opt = optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip_norm),
        optax.adamw(cfg.enc_lr, weight_decay=cfg.enc_weight_decay),
    )
    critic_opt = optax.adam(cfg.lr)
    actor_opt = optax.adam(cfg.lr)
    world_model_loss = functools.partial(losses.world_model_loss, networks)
    critic_loss = functools.partial(losses.critic_loss, networks)
    actor_loss = functools.partial(losses.actor_loss, networks)

    def init(key: jax.Array) -> TrainState:
        """Fresh parameters, identical target copies, optimiser states and zero counters."""
        key_world_model, key_actor, key_critic = jax.random.split(key, 3)
        world_model = networks.init_world_model(key_world_model)
        actor = networks.init_actor(key_actor)
        critic = networks.init_critics(key_critic)
        copy = functools.partial(jax.tree.map, jnp.copy)  # distinct buffers, so callers may donate the state
        return TrainState(
            world_model=world_model,
            target_encoder=copy(world_model.encoder),
            target_projection=copy(world_model.projection),
            actor=actor,
            target_actor=copy(actor),
            critic=critic,
            target_critic=copy(critic),
            world_model_opt_state=world_model_opt.init(world_model),
            critic_opt_state=critic_opt.init(critic),
            actor_opt_state=actor_opt.init(actor),
            step=jnp.zeros((), jnp.int32),
            last_actor_loss=jnp.zeros((), jnp.float32),
            last_actor_grad_norm=jnp.zeros((), jnp.float32),
            obs_stats=normalizer.init(observation_size) if cfg.normalize_observations else None,
        )

    def observe(state: TrainState, obs: jax.Array) -> TrainState:
        """Adds the observations to the running statistics (when observations are normalised)."""
        if state.obs_stats is None:
            return state
        return state.replace(obs_stats=normalizer.update(state.obs_stats, obs))

    def rl_inputs(encoder: Params, batch: Batch) -> losses.LatentTransition:
        """Stop-gradient latents of the (freshly updated) online encoder and the n-step return pieces."""
        ret = nstep_return(batch.reward, batch.terminated, batch.done, cfg.nstep, cfg.gamma)
        batch_size = batch.obs.shape[0]
        next_obs = batch.obs[jnp.arange(batch_size), ret.next_index]
        z_both = networks.encode(encoder, jnp.concatenate([batch.obs[:, 0], next_obs], axis=0))
        z, next_z = jnp.split(jax.lax.stop_gradient(z_both), 2, axis=0)
        return losses.LatentTransition(
            z=z, action=batch.action[:, 0], nstep_reward=ret.reward, discount=ret.discount, next_z=next_z
        )

    def world_model_step(state: TrainState, batch: Batch) -> WorldModelStep:
        """Representation: encoder, dynamics (and heads), then the momentum targets."""
        wm = gradient_step(
            world_model_loss,
            world_model_opt,
            state.world_model,
            state.world_model_opt_state,
            state.target_encoder,
            state.target_projection,
            batch,
        )
        target_encoder = optax.incremental_update(wm.params.encoder, state.target_encoder, cfg.enc_tau)
        target_projection = None
        if cfg.use_projection:
            target_projection = optax.incremental_update(wm.params.projection, state.target_projection, cfg.enc_tau)
        return WorldModelStep(wm, target_encoder, target_projection)

    def keep_world_model(state: TrainState, batch: Batch) -> WorldModelStep:
        """An update without the world-model step: parameters and targets as they are, its metrics 0."""
        zero = jnp.zeros((), jnp.float32)
        shapes = jax.eval_shape(world_model_step, state, batch).step.aux
        aux = {name: jnp.zeros(v.shape, v.dtype) for name, v in shapes.items()}
        step = GradientStep(state.world_model, state.world_model_opt_state, zero, aux, zero)
        return WorldModelStep(step, state.target_encoder, state.target_projection)

    def critic_step(state: TrainState, transition: losses.LatentTransition, key: jax.Array) -> CriticStep:
        """Critic (TD3, n-step) on the transition's latents, then its Polyak target."""
        critic = gradient_step(
            critic_loss,
            critic_opt,
            state.critic,
            state.critic_opt_state,
            state.target_critic,
            state.target_actor,
            transition,
            key,
        )
        return CriticStep(critic, optax.incremental_update(critic.params, state.target_critic, cfg.tau))

    def actor_step(state: TrainState, critic_params: Params, z: jax.Array, key: jax.Array) -> _ActorStep:
        """One actor step on the (updated) critics, then its Polyak target."""
        step = gradient_step(actor_loss, actor_opt, state.actor, state.actor_opt_state, critic_params, z, key)
        target_actor = optax.incremental_update(step.params, state.target_actor, cfg.tau)
        return _ActorStep(step.params, target_actor, step.opt_state, step.loss, step.grad_norm)

    def update(
        state: TrainState, batch: Batch, key: jax.Array, step: jax.Array | None = None
    ) -> tuple[TrainState, Metrics]:
        """One iQRL update: world-model step + EMA, critic step + Polyak, an actor step every actor_update_freq-th.

        `step` is this update's index, equal to `state.step` (the default); pass it unbatched under a seed vmap.
        """
        key_critic, key_actor = jax.random.split(key)
        if state.obs_stats is not None:
            batch = batch.replace(obs=normalizer.standardise(state.obs_stats, batch.obs))
        index = state.step if step is None else jnp.asarray(step, jnp.int32)
        do_world_model = index % cfg.enc_update_freq == 0
        if cfg.enc_update_freq == 1:
            world = world_model_step(state, batch)
        else:
            world = jax.lax.cond(
                do_world_model, lambda _: world_model_step(state, batch), lambda _: keep_world_model(state, batch), None
            )
        wm = world.step
        # Critic on latents of the freshly updated online encoder.
        transition = rl_inputs(wm.params.encoder, batch)
        critic_result = critic_step(state, transition, key_critic)
        critic = critic_result.step

        # Delayed actor: the reference counts critic steps from 1 and updates the actor when the count divides.
        def do_actor_step(_: None) -> _ActorStep:
            return actor_step(state, critic.params, transition.z, key_actor)

        def keep_actor(_: None) -> _ActorStep:
            return _ActorStep(
                actor=state.actor,
                target_actor=state.target_actor,
                opt_state=state.actor_opt_state,
                loss=state.last_actor_loss,
                grad_norm=state.last_actor_grad_norm,
            )

        do_actor = (index + 1) % cfg.actor_update_freq == 0
        if cfg.actor_update_freq == 1:
            actor = do_actor_step(None)
        else:
            actor = jax.lax.cond(do_actor, do_actor_step, keep_actor, None)

        new_state = TrainState(
            world_model=wm.params,
            target_encoder=world.target_encoder,
            target_projection=world.target_projection,
            actor=actor.actor,
            target_actor=actor.target_actor,
            critic=critic.params,
            target_critic=critic_result.target_critic,
            world_model_opt_state=wm.opt_state,
            critic_opt_state=critic.opt_state,
            actor_opt_state=actor.opt_state,
            step=state.step + 1,
            last_actor_loss=actor.loss,
            last_actor_grad_norm=actor.grad_norm,
            obs_stats=state.obs_stats,
        )
        metrics = {
            "encoder_loss": wm.loss,
            **wm.aux,
            "critic_loss": critic.loss,
            **critic.aux,
            "actor_loss": actor.loss,
            "actor_updated": do_actor.astype(jnp.float32),
            "world_model_updated": jnp.asarray(do_world_model, jnp.float32),
            "encoder_grad_norm": wm.grad_norm,
            "critic_grad_norm": critic.grad_norm,
            "actor_grad_norm": actor.grad_norm,
        }
        if cfg.log_code_usage:
            metrics["fsq_code_usage"] = fsq.code_usage(fsq.code_indices(transition.z, cfg.fsq_levels), cfg.fsq_levels)
        if cfg.log_latent_rank:
            metrics["latent_srank"] = effective_rank(transition.z, cfg.rank_delta)
        return new_state, {name: jnp.asarray(value, jnp.float32) for name, value in metrics.items()}

    def update_at_precision(
        state: TrainState, batch: Batch, key: jax.Array, step: jax.Array | None = None
    ) -> tuple[TrainState, Metrics]:
        with jax.default_matmul_precision(cfg.matmul_precision):
            return update(state, batch, key, step)

    policy = policy_from_networks(networks)
    return Agent(
        init=init,
        update=functools.wraps(update)(update_at_precision),
        act=policy.act,
        act_deterministic=policy.act_deterministic,
        observe=observe,
        networks=networks,
        parts=UpdateParts(world_model_step, rl_inputs, critic_step, actor_step),
    )
