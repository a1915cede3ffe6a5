"""The fused training program: `make_train(cfg)` returns pure `init(key)` and `train_chunk(state)` for one seed.

A chunk is a `lax.scan` over K agent steps of the vectorised env. Each step: act with exploration noise, step the
auto-resetting envs, write the transitions into the on-device replay, then run the gradient updates due (a loop over
sampled windows and `agent.update`). Everything stays on the device; the chunk returns the new state and a dict of
scalar metrics, read once by the host.

Counting, as the paper counts: env steps = agent steps x action_repeat x num_envs. Updates follow the cumulative
schedule floor((v - warmup) * num_envs * utd_ratio) after v vector steps, in exact rational arithmetic, so
fractional ratios give exactly the right number of updates over a chunk. Exploration noise (std in units of the
action half-range) is `noise_start` during warm-up, then decays linearly to `noise_end` over the task's decay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

import envs
from mjx_iqrl import replay
from mjx_iqrl.agent import WORLD_MODEL_METRICS, Agent, TrainState, effective_rank, fsq, make_agent
from mjx_iqrl.config import Config, Derived, derive
from mjx_iqrl.eval_episodes import make_evaluate

Metrics = dict[str, jax.Array]


@struct.dataclass
class TrainerState:
    """The whole training state of one seed: agent, envs, replay, key and counters (all arrays)."""

    agent: TrainState
    env: envs.State
    replay: replay.ReplayState
    key: jax.Array
    vector_steps: jax.Array
    """int32 agent steps of the vectorised env so far (env steps = this x num_envs x action_repeat)."""
    updates: jax.Array
    """int32 gradient updates so far."""
    episode_return: jax.Array
    """[num_envs] return of each env's current episode so far."""


class Trainer(NamedTuple):
    """The pure functions of one training run (one seed), built once by `make_train`."""

    init: Callable[[jax.Array], TrainerState]
    """init(key) -> TrainerState with reset envs, fresh agent and an empty replay."""
    train_chunk: Callable[[TrainerState], tuple[TrainerState, Metrics]]
    """train_chunk(state) -> (state after K more vector steps and their updates, chunk metrics)."""
    evaluate: Callable[[Any, jax.Array], jax.Array]
    """evaluate(policy_params, key) -> [eval.episodes] returns of the deterministic policy (0-1000 scale)."""
    agent: Agent
    derived: Derived
    env: Any
    """The task env (unwrapped)."""


class UpdateLoopResult(NamedTuple):
    """What a run of gradient updates returns."""

    agent: TrainState
    sums: Metrics
    """Sum over the updates of each update metric."""
    first_nonfinite: jax.Array
    """Update index at which a loss first became non-finite, or -1."""
    nonfinite_loss: jax.Array
    """Index into the sorted loss names of that loss, or -1."""


def loss_names(metrics: Metrics) -> list[str]:
    """The loss metrics watched for non-finite values, in a fixed order."""
    return sorted(k for k in metrics if k.endswith("_loss"))


UpdateLoop = Callable[[TrainState, replay.ReplayState, jax.Array, jax.Array, jax.Array], UpdateLoopResult]


def seed_uniform(x: jax.Array, axis_name: str | None) -> jax.Array:
    """`x`, equal across the seeds of an outer vmap by construction, as one unbatched value.

    Under vmap a loop bound or branch predicate that is batched turns the loop or branch into a select over its
    whole carry, evaluated for every seed and every iteration. A value that every seed shares (step counters, the
    update schedule) is reduced over the seed axis instead: the result is unbatched, so `fori_loop` keeps a real
    trip count and `lax.cond` stays a branch. Without an outer vmap it is `x` itself.
    """
    return x if axis_name is None else jax.lax.pmax(x, axis_name)


def make_update_loop(agent: Agent, batch_size: int, horizon: int, axis_name: str | None = None) -> UpdateLoop:
    """loop(agent_state, buffer, count, first_index, key): `count` updates on windows sampled from `buffer`.

    `first_index` is the number of updates done before (it numbers the updates for the non-finite report and sets
    which of them step the delayed actor). Sums the update metrics and watches the losses for non-finite values.
    Under a vmap over seeds named `axis_name`, `count` and `first_index` must be equal across seeds (they are in
    the trainer): they are then used unbatched (`seed_uniform`).
    """

    def loop(
        agent_state: TrainState, buffer: replay.ReplayState, count: jax.Array, first_index: jax.Array, key: jax.Array
    ) -> UpdateLoopResult:
        example = jax.eval_shape(agent.update, agent_state, replay.sample(buffer, key, batch_size, horizon), key)[1]
        names = loss_names(example)
        count, first_index = seed_uniform(count, axis_name), seed_uniform(first_index, axis_name)

        def body(i: jax.Array, carry: UpdateLoopResult) -> UpdateLoopResult:
            key_sample, key_update = jax.random.split(jax.random.fold_in(key, i))
            batch = replay.sample(buffer, key_sample, batch_size, horizon)
            new_agent, metrics = agent.update(carry.agent, batch, key_update, first_index + i)
            finite = jnp.stack([jnp.isfinite(metrics[n]) for n in names])
            newly_bad = (carry.first_nonfinite < 0) & ~jnp.all(finite)
            return UpdateLoopResult(
                agent=new_agent,
                sums=jax.tree.map(jnp.add, carry.sums, metrics),
                first_nonfinite=jnp.where(newly_bad, first_index + i, carry.first_nonfinite),
                nonfinite_loss=jnp.where(newly_bad, jnp.argmin(finite).astype(jnp.int32), carry.nonfinite_loss),
            )

        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), example)
        minus_one = jnp.full((), -1, jnp.int32)
        return jax.lax.fori_loop(0, count, body, UpdateLoopResult(agent_state, zeros, minus_one, minus_one))

    return loop


def make_training_agent(cfg: Config, task_env: Any) -> Agent:
    """The agent as the trainer builds it: the latent diagnostics (rank, an SVD; code usage, a sort) are computed
    once per chunk, not per update."""
    low, high = task_env.action_bounds
    agent_cfg = dataclasses.replace(cfg.agent, log_latent_rank=False, log_code_usage=False)
    return make_agent(agent_cfg, task_env.observation_size, task_env.action_size, low, high)


def make_train(cfg: Config, axis_name: str | None = None) -> Trainer:
    """Builds env, agent and the pure training functions; `axis_name` names an outer vmap over seeds, if any."""
    task_env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
    derived = derive(cfg, task_env.episode_length)
    env = envs.wrap_for_training(task_env, cfg.train.num_envs, cfg.env.action_repeat, axis_name=axis_name)
    agent = make_training_agent(cfg, task_env)
    evaluate = make_evaluate(task_env, agent.act_deterministic, cfg.env.action_repeat, cfg.eval.episodes)

    num_envs, horizon, batch_size = cfg.train.num_envs, cfg.agent.horizon, cfg.train.batch_size
    warmup = derived.warmup_vector_steps
    decay_vector_steps = derived.noise_decay_env_steps / derived.env_steps_per_vector_step
    t = cfg.train

    def noise_std(vector_steps: jax.Array) -> jax.Array:
        progress = jnp.clip((vector_steps - warmup) / decay_vector_steps, 0.0, 1.0)
        return t.noise_start + (t.noise_end - t.noise_start) * progress

    def init(key: jax.Array) -> TrainerState:
        key_agent, key_env, key_state = jax.random.split(key, 3)
        env_state = env.reset(key_env)
        return TrainerState(
            agent=agent.init(key_agent),
            env=env_state,
            replay=replay.init(derived.replay_length, num_envs, task_env.observation_size, task_env.action_size),
            key=key_state,
            vector_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((num_envs,), jnp.float32),
        )

    run_updates = make_update_loop(agent, batch_size, horizon, axis_name)

    class _StepCarry(NamedTuple):
        state: TrainerState
        update_sums: Metrics
        update_count: jax.Array
        returns_sum: jax.Array
        episodes: jax.Array
        first_nonfinite: jax.Array
        nonfinite_loss: jax.Array

    def vector_step(carry: _StepCarry, _: None) -> tuple[_StepCarry, None]:
        s = carry.state
        key, key_act, key_update = jax.random.split(s.key, 3)

        # ACT AND STEP THE ENVS
        action = agent.act(s.agent.policy_params, s.env.obs, key_act, noise_std(s.vector_steps))
        env_state = env.step(s.env, action)
        ended = ((env_state.done > 0) | (env_state.info["truncation"] > 0)).astype(jnp.float32)
        transition = replay.Transition(
            obs=s.env.obs,
            action=action,
            reward=env_state.reward,
            terminated=env_state.done,
            done=ended,
            next_obs=env_state.info["final_obs"],
        )
        buffer = replay.add(s.replay, transition)
        episode_return = s.episode_return + env_state.reward

        # GRADIENT UPDATES DUE AFTER THIS STEP (the schedule is the same for every seed)
        done_steps = seed_uniform(s.vector_steps, axis_name)
        count = derived.updates_after(done_steps + 1) - derived.updates_after(done_steps)
        vector_steps = s.vector_steps + 1
        upd = run_updates(agent.observe(s.agent, s.env.obs), buffer, count, s.updates, key_update)

        state = TrainerState(
            agent=upd.agent,
            env=env_state,
            replay=buffer,
            key=key,
            vector_steps=vector_steps,
            updates=s.updates + count,
            episode_return=episode_return * (1.0 - ended),
        )
        keep_first = carry.first_nonfinite >= 0
        return _StepCarry(
            state=state,
            update_sums=jax.tree.map(jnp.add, carry.update_sums, upd.sums),
            update_count=carry.update_count + count,
            returns_sum=carry.returns_sum + jnp.sum(episode_return * ended),
            episodes=carry.episodes + jnp.sum(ended),
            first_nonfinite=jnp.where(keep_first, carry.first_nonfinite, upd.first_nonfinite),
            nonfinite_loss=jnp.where(keep_first, carry.nonfinite_loss, upd.nonfinite_loss),
        ), None

    def train_chunk(state: TrainerState) -> tuple[TrainerState, Metrics]:
        example = jax.eval_shape(
            agent.update, state.agent, replay.sample(state.replay, state.key, batch_size, horizon), state.key
        )[1]
        zero = jnp.zeros((), jnp.float32)
        minus_one = jnp.full((), -1, jnp.int32)
        carry = _StepCarry(
            state=state,
            update_sums={k: jnp.zeros(v.shape, v.dtype) for k, v in example.items()},
            update_count=jnp.zeros((), jnp.int32),
            returns_sum=zero,
            episodes=zero,
            first_nonfinite=minus_one,
            nonfinite_loss=minus_one,
        )
        carry, _ = jax.lax.scan(vector_step, carry, None, length=derived.vector_steps_per_chunk)
        state = carry.state
        count = jnp.maximum(carry.update_count, 1).astype(jnp.float32)
        world_model_steps = jnp.maximum(carry.update_sums["world_model_updated"], 1.0)
        metrics = {
            f"train/{k}": v / (world_model_steps if k in WORLD_MODEL_METRICS else count)
            for k, v in carry.update_sums.items()
        }
        metrics["train/updates_in_chunk"] = carry.update_count.astype(jnp.float32)
        metrics["train/episode_return"] = carry.returns_sum / jnp.maximum(carry.episodes, 1.0)
        metrics["train/episodes"] = carry.episodes
        metrics["train/noise_std"] = noise_std(state.vector_steps)
        metrics["train/replay_size"] = (state.replay.size * num_envs).astype(jnp.float32)
        metrics["nonfinite/update"] = carry.first_nonfinite
        metrics["nonfinite/loss"] = carry.nonfinite_loss
        if cfg.agent.log_latent_rank or cfg.agent.log_code_usage:
            # Diagnostics on a fresh batch: the effective rank of the online latents (the paper's collapse measure)
            # and the fraction of each FSQ codebook they use.
            batch = replay.sample(state.replay, jax.random.fold_in(state.key, 1), batch_size, horizon)
            z = agent.networks.encode(state.agent.world_model.encoder, batch.obs[:, 0])
            if cfg.agent.log_latent_rank:
                metrics["train/latent_srank"] = effective_rank(z, cfg.agent.rank_delta)
            if cfg.agent.log_code_usage:
                levels = cfg.agent.fsq_levels
                metrics["train/fsq_code_usage"] = fsq.code_usage(fsq.code_indices(z, levels), levels)
        return state, metrics

    return Trainer(init=init, train_chunk=train_chunk, evaluate=evaluate, agent=agent, derived=derived, env=task_env)
