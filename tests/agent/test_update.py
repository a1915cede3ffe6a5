"""The full agent: learning on a fixed batch, jit/eager agreement, update cadence, targets, acting, tracing."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl.agent import AgentConfig, Batch, PolicyParams, TrainState, losses, make_agent, make_policy

# Compilation is these tests' time (tiny networks, few updates): unoptimised, tests/agent/test_update.py and
# tests/train/test_update_loop.py together ran in 119 s instead of 209 s on one core.
pytestmark = pytest.mark.unoptimized

CFG = AgentConfig(
    latent_dim=8, mlp_dims=(32,), enc_mlp_dims=(32,), horizon=3, nstep=2, lr=1e-3, enc_lr=1e-3, enc_tau=0.05
)
OBS, ACT, B = 5, 2, 8
NUM_UPDATES = 150
METRIC_NAMES = {
    "encoder_loss",
    "consistency_loss",
    "critic_loss",
    "q_mean",
    "td_target_mean",
    "actor_loss",
    "actor_updated",
    "world_model_updated",
    "encoder_grad_norm",
    "critic_grad_norm",
    "actor_grad_norm",
    "fsq_code_usage",
    "latent_srank",
}


def _batch(key: jax.Array, batch_size: int = B) -> Batch:
    key_obs, key_act, key_rew = jax.random.split(key, 3)
    done = jnp.zeros((batch_size, CFG.horizon)).at[0, 1].set(1.0).at[1, 0].set(1.0)
    return Batch(
        obs=jax.random.normal(key_obs, (batch_size, CFG.horizon + 1, OBS)),
        action=jax.random.uniform(key_act, (batch_size, CFG.horizon, ACT), minval=-1.0, maxval=1.0),
        reward=jax.random.uniform(key_rew, (batch_size, CFG.horizon)),
        terminated=jnp.zeros((batch_size, CFG.horizon)).at[1, 0].set(1.0),
        done=done,
    )


def _assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def _trees_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.fixture(scope="module")
def agent():
    return make_agent(CFG, OBS, ACT)


@pytest.fixture(scope="module")
def state0(agent):
    return jax.jit(agent.init)(jax.random.key(0))


@pytest.fixture(scope="module")
def batch():
    return _batch(jax.random.key(1))


@pytest.fixture(scope="module")
def traced():
    """Counts how often the shared jitted update is traced."""
    return []


@pytest.fixture(scope="module")
def jit_update(agent, traced):
    def counted(state, batch, key):
        traced.append(1)
        return agent.update(state, batch, key)

    return jax.jit(counted)


@pytest.fixture(scope="module")
def two_steps(jit_update, state0, batch):
    """Two jitted updates from state0 (the first without and the second with an actor step)."""
    keys = jax.random.split(jax.random.key(2), 2)
    state1, metrics1 = jit_update(state0, batch, keys[0])
    state2, metrics2 = jit_update(state1, batch, keys[1])
    return keys, (state1, metrics1), (state2, metrics2)


@pytest.fixture(scope="module")
def trained(jit_update, state0, batch):
    """NUM_UPDATES jitted updates on one fixed batch; metrics stacked over updates."""
    state, history = state0, []
    for key in jax.random.split(jax.random.key(3), NUM_UPDATES):
        state, metrics = jit_update(state, batch, key)
        history.append(metrics)
    return state, {name: np.stack([m[name] for m in history]) for name in history[0]}


def test_update_lowers_each_loss(agent, state0, batch, trained):
    state, metrics = trained
    first, last = slice(0, 10), slice(-10, None)
    for name in ("encoder_loss", "critic_loss"):
        assert metrics[name][last].mean() < metrics[name][first].mean() - 0.1, name
    # The actor chases a moving critic, so compare actors against the same (final) critic and latents.
    latents = agent.networks.encode(state.world_model.encoder, batch.obs[:, 0])
    key = jax.random.key(4)
    before = losses.actor_loss(agent.networks, state0.actor, state.critic, latents, key)[0]
    after = losses.actor_loss(agent.networks, state.actor, state.critic, latents, key)[0]
    assert float(after) < float(before) - 0.05
    assert all(np.all(np.isfinite(v)) for v in metrics.values())


def test_metrics_are_named_finite_scalars(two_steps):
    _, (_, metrics1), (_, metrics2) = two_steps
    assert set(metrics1) == METRIC_NAMES
    for value in metrics2.values():
        assert value.shape == () and value.dtype == jnp.float32 and np.isfinite(value)


def test_jit_matches_eager(agent, batch, two_steps):
    # The second update takes every path (world model, critic, actor step); eager runs it op by op.
    keys, (state1, _), (state2, metrics2) = two_steps
    eager2, eager_metrics2 = agent.update(state1, batch, keys[1])
    _assert_trees_close(state2, eager2)
    _assert_trees_close(metrics2, eager_metrics2, rtol=1e-4, atol=1e-5)


def test_actor_steps_every_second_update(state0, two_steps, trained):
    _, (state1, metrics1), (state2, metrics2) = two_steps
    # Update 1: no actor step (the reference's critic counter is 1); update 2: actor step.
    assert float(metrics1["actor_updated"]) == 0.0 and float(metrics2["actor_updated"]) == 1.0
    assert _trees_equal(state1.actor, state0.actor) and _trees_equal(state1.target_actor, state0.target_actor)
    assert not _trees_equal(state2.actor, state1.actor)
    assert float(state2.last_actor_loss) == float(metrics2["actor_loss"]) != 0.0
    _, metrics = trained
    np.testing.assert_array_equal(metrics["actor_updated"], np.arange(NUM_UPDATES) % 2)
    # Without an actor step the reported loss is the last real one.
    np.testing.assert_array_equal(metrics["actor_loss"][2::2], metrics["actor_loss"][1:-1:2])
    assert np.unique(metrics["actor_loss"][1::2]).size > NUM_UPDATES // 4  # the real ones change


def test_targets_move_by_ema(state0, two_steps):
    _, (state1, _), (state2, _) = two_steps
    assert state1.step.dtype == jnp.int32 and int(state1.step) == 1 and int(state2.step) == 2
    # Targets start equal to the online nets, so after one update: target = (1 - tau) * old + tau * new online.
    expected_enc = jax.tree.map(
        lambda old, new: (1 - CFG.enc_tau) * old + CFG.enc_tau * new,
        state0.target_encoder,
        state1.world_model.encoder,
    )
    _assert_trees_close(state1.target_encoder, expected_enc)
    expected_critic = jax.tree.map(
        lambda old, new: (1 - CFG.tau) * old + CFG.tau * new, state0.target_critic, state1.critic
    )
    _assert_trees_close(state1.target_critic, expected_critic)
    assert not _trees_equal(state1.target_encoder, state0.target_encoder)
    expected_actor = jax.tree.map(
        lambda old, new: (1 - CFG.tau) * old + CFG.tau * new, state1.target_actor, state2.actor
    )
    _assert_trees_close(state2.target_actor, expected_actor)


def test_compiles_once_and_stays_on_device(jit_update, two_steps, batch, traced):
    _, _, (state2, _) = two_steps
    key = jax.random.key(5)
    with jax.transfer_guard("disallow"):
        state3, metrics = jit_update(state2, batch, key)
        jit_update(state3, batch, key)
    assert len(traced) == 1
    assert isinstance(state3, TrainState) and metrics["critic_loss"].shape == ()


def test_update_traces_under_scan(agent, state0, batch):
    keys = jax.random.split(jax.random.key(1), 4)
    final, metrics = jax.eval_shape(lambda s: jax.lax.scan(lambda c, k: agent.update(c, batch, k), s, keys), state0)
    assert final.step.shape == () and metrics["critic_loss"].shape == (4,)


def test_update_traces_under_vmap_over_seeds(agent, batch):
    seeds = 3
    states = jax.eval_shape(jax.vmap(agent.init), jax.random.split(jax.random.key(0), seeds))
    batches = jax.tree.map(lambda x: jnp.broadcast_to(x, (seeds, *x.shape)), batch)
    keys = jax.random.split(jax.random.key(1), seeds)
    new_states, metrics = jax.eval_shape(jax.vmap(agent.update), states, batches, keys)
    assert new_states.step.shape == (seeds,)
    assert all(m.shape == (seeds,) for m in metrics.values())


def test_act(agent, state0, batch):
    obs = batch.obs[:, 0]
    act = jax.jit(agent.act)
    deterministic = jax.jit(agent.act_deterministic)(state0, obs)
    assert deterministic.shape == (B, ACT)
    np.testing.assert_allclose(act(state0, obs, jax.random.key(0), 0.0), deterministic, atol=1e-6)
    noisy = act(state0, obs, jax.random.key(0), jnp.float32(0.3))  # traced noise_std
    assert not np.allclose(noisy, deterministic)
    wild = act(state0, obs, jax.random.key(1), 100.0)
    assert np.all(np.abs(np.asarray(wild)) <= 1.0) and np.mean(np.abs(np.asarray(wild)) == 1.0) > 0.9
    # A policy rebuilt from the config and only the encoder + actor params acts identically.
    policy = make_policy(CFG, OBS, ACT)
    params = PolicyParams(encoder=state0.world_model.encoder, actor=state0.actor)
    np.testing.assert_allclose(policy.act_deterministic(params, obs), deterministic, atol=1e-6)


def test_optional_heads_train(batch):
    cfg = dataclasses.replace(CFG, use_reward_head=True, use_projection=True, proj_dim=4, use_cosine=False)
    agent = make_agent(cfg, OBS, ACT)

    @jax.jit  # one compilation for init and update
    def init_and_update(key):
        state = agent.init(key)
        return (state, *agent.update(state, batch, key))

    state, new_state, metrics = init_and_update(jax.random.key(0))
    assert set(metrics) == METRIC_NAMES | {"reward_loss"}
    assert float(metrics["reward_loss"]) > 0.0
    # encoder loss = consistency (MSE variant, >= 0) + reward loss.
    assert float(metrics["encoder_loss"]) == pytest.approx(
        float(metrics["consistency_loss"] + metrics["reward_loss"]), rel=1e-6
    )
    assert not _trees_equal(new_state.world_model.reward, state.world_model.reward)
    assert not _trees_equal(new_state.target_projection, state.target_projection)


def test_world_model_steps_every_enc_update_freq_th_update(batch):
    """enc_update_freq=2: updates 0 and 2 step the encoder, dynamics and momentum targets; update 1 keeps them and
    reports 0 for the world model's metrics (weighed out by world_model_updated), while the critic steps every
    time; the default (1) equals the plain update."""
    agent = make_agent(dataclasses.replace(CFG, enc_update_freq=2), OBS, ACT)
    update = jax.jit(agent.update)
    states, metrics = [jax.jit(agent.init)(jax.random.key(0))], []
    for key in jax.random.split(jax.random.key(4), 3):
        state, m = update(states[-1], batch, key)
        states.append(state)
        metrics.append(m)
    assert [float(m["world_model_updated"]) for m in metrics] == [1.0, 0.0, 1.0]
    assert float(metrics[1]["encoder_loss"]) == 0.0 and float(metrics[1]["encoder_grad_norm"]) == 0.0
    assert float(metrics[0]["encoder_loss"]) != 0.0 and float(metrics[2]["encoder_loss"]) != 0.0
    for name in ("world_model", "target_encoder", "world_model_opt_state"):
        assert _trees_equal(getattr(states[1], name), getattr(states[2], name)), name
        assert not _trees_equal(getattr(states[2], name), getattr(states[3], name)), name
    assert all(not _trees_equal(states[i].critic, states[i + 1].critic) for i in range(3))


def test_normalised_observations_are_standardised_everywhere(batch, tmp_path):
    """normalize_observations: `observe` keeps the running mean and std of what it saw; an update equals the plain
    agent's update on the standardised batch; acting standardises too, also after a policy export and load."""
    from mjx_iqrl.agent import normalizer
    from mjx_iqrl.checkpoint import export_policy, load_policy

    plain = make_agent(CFG, OBS, ACT)
    agent = make_agent(dataclasses.replace(CFG, normalize_observations=True), OBS, ACT)
    state = jax.jit(agent.init)(jax.random.key(0))
    seen = np.asarray(jax.random.normal(jax.random.key(5), (300, OBS))) * np.arange(1, OBS + 1) + 3.0
    for chunk in np.split(seen, 3):
        state = agent.observe(state, chunk)
    np.testing.assert_allclose(state.obs_stats.mean, seen.mean(0), rtol=1e-5)
    np.testing.assert_allclose(normalizer.std(state.obs_stats), seen.std(0), rtol=1e-5)

    key = jax.random.key(6)
    new, metrics = jax.jit(agent.update)(state, batch, key)
    standard = batch.replace(obs=normalizer.standardise(state.obs_stats, batch.obs))
    expected, expected_metrics = jax.jit(plain.update)(state.replace(obs_stats=None), standard, key)
    _assert_trees_close(new.replace(obs_stats=None), expected, rtol=1e-6, atol=1e-7)
    assert _trees_equal(new.obs_stats, state.obs_stats)  # updates do not change the statistics
    assert float(metrics["critic_loss"]) == pytest.approx(float(expected_metrics["critic_loss"]), rel=1e-6)

    obs = seen[:4]
    actions = agent.act_deterministic(state.policy_params, obs)
    unnormalised = state.policy_params.replace(obs_stats=None)
    np.testing.assert_allclose(
        actions, plain.act_deterministic(unnormalised, normalizer.standardise(state.obs_stats, obs))
    )
    config = {"agent": dataclasses.asdict(agent.networks.cfg), "task": {"name": "pendulum-swingup"}}
    meta = {"config": config, "observation_size": OBS, "action_size": ACT, "env_steps": 0}
    meta |= {"action_low": [-1.0] * ACT, "action_high": [1.0] * ACT}
    loaded = load_policy(export_policy(tmp_path / "p", jax.device_get(state.policy_params), meta))
    np.testing.assert_allclose(loaded.act(obs), actions, rtol=1e-6)
