"""Networks: reference architecture sizes, PyTorch-style init, the critic ensemble's member sampling, action bounds."""

import collections
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl.agent import AgentConfig, make_agent, make_networks

SMALL = AgentConfig(latent_dim=8, fsq_levels=(8, 8), mlp_dims=(32, 32), enc_mlp_dims=(32,), horizon=3)
CONSTANT_Q = np.array([1.0, 2.0, 4.0, 8.0, 16.0], np.float32)


@pytest.fixture(scope="module")
def nets():
    return make_networks(SMALL, observation_size=5, action_size=2)


@pytest.fixture(scope="module")
def constant_critic(nets):
    return _constant_critics(nets)


def _count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def _mlp_count(inp: int, hidden: list[int], out: int) -> int:
    """Linear (w + b) and LayerNorm (scale + bias) per hidden layer, then a Linear output."""
    total, width = 0, inp
    for h in hidden:
        total += width * h + h + 2 * h
        width = h
    return total + width * out + out


def test_default_parameter_counts_match_reference_architecture():
    obs, act = 17, 6  # cheetah
    agent = make_agent(AgentConfig(), obs, act)
    state = jax.eval_shape(agent.init, jax.random.key(0))  # shapes only: nothing is compiled or allocated
    d_z = 512 * 2
    # Encoder: Linear(17, 256) + LN(256) + Linear(256, 1024).
    encoder = 17 * 256 + 256 + 2 * 256 + 256 * 1024 + 1024
    # Dynamics: Linear(1024 + 6, 512) + LN + Linear(512, 512) + LN + Linear(512, 1024).
    dynamics = (d_z + 6) * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 * d_z + d_z
    # Actor: Linear(1024, 512) + LN + Linear(512, 512) + LN + Linear(512, 6).
    actor = d_z * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 * 6 + 6
    # One critic: Linear(1024 + 6, 512) + LN + Linear(512, 512) + LN + Linear(512, 1); five of them.
    critic = (d_z + 6) * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 * 1 + 1
    assert encoder == _mlp_count(obs, [256], d_z) == 4352 + 256 + 512 + 262_144 + 1024
    assert _count(state.world_model.encoder) == encoder
    assert _count(state.target_encoder) == encoder
    assert _count(state.world_model.dynamics) == dynamics
    assert state.world_model.reward is None and state.world_model.projection is None
    assert state.target_projection is None
    assert _count(state.actor) == _count(state.target_actor) == actor
    assert _count(state.critic) == _count(state.target_critic) == 5 * critic
    assert all(leaf.shape[0] == 5 for leaf in jax.tree.leaves(state.critic))


def test_optional_heads_parameter_counts():
    cfg = AgentConfig(use_reward_head=True, use_projection=True)
    state = jax.eval_shape(make_agent(cfg, 17, 6).init, jax.random.key(0))
    d_z = 1024
    # Reward: [z, a] -> 512 -> 512 -> 1. Projection: z -> 512 -> 512 -> 1024 // 16 = 64.
    reward = (d_z + 6) * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 + 1
    projection = d_z * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 * 64 + 64
    assert _count(state.world_model.reward) == reward
    assert _count(state.world_model.projection) == _count(state.target_projection) == projection


def test_torch_default_init_ranges(nets):
    params = nets.init_encoder(jax.random.key(0))["params"]
    # Linear(5, 32): |w|, |b| <= 1 / sqrt(5); Linear(32, 16): <= 1 / sqrt(32); LayerNorm starts at scale 1, bias 0.
    for name, fan_in in (("Linear_0", 5), ("Linear_1", 32)):
        for leaf in params[name].values():
            assert np.max(np.abs(leaf)) <= 1 / np.sqrt(fan_in)
            assert np.max(np.abs(leaf)) > 0.8 / np.sqrt(fan_in)  # uses the range, not a much smaller one
    np.testing.assert_array_equal(params["LayerNorm_0"]["scale"], np.ones(32))
    np.testing.assert_array_equal(params["LayerNorm_0"]["bias"], np.zeros(32))


def test_encoder_output_is_quantised(nets):
    z = nets.encode(nets.init_encoder(jax.random.key(0)), jax.random.normal(jax.random.key(1), (4, 5)) * 3)
    assert z.shape == (4, 16)
    np.testing.assert_array_equal(np.asarray(z) * 4, np.round(np.asarray(z) * 4))  # multiples of 1/4
    assert np.all((np.asarray(z) >= -1) & (np.asarray(z) <= 0.75))


def test_critic_members_are_independently_initialised(nets):
    kernels = np.asarray(nets.init_critics(jax.random.key(0))["params"]["Linear_0"]["kernel"])
    assert kernels.shape == (5, 16 + 2, 32)
    for i in range(5):
        for j in range(i + 1, 5):
            assert not np.allclose(kernels[i], kernels[j])


def _constant_critics(nets):
    """Critic params whose member i outputs CONSTANT_Q[i] for every input (zero output kernel, bias c_i)."""
    params = nets.init_critics(jax.random.key(0))
    out = dict(params["params"]["Linear_2"])
    out["kernel"] = jnp.zeros_like(out["kernel"])
    out["bias"] = jnp.asarray(CONSTANT_Q)[:, None]
    return {"params": {**params["params"], "Linear_2": out}}


def _z_a(batch: int = 3):
    return jnp.ones((batch, 16)) * 0.25, jnp.zeros((batch, 2))


def test_q_all_returns_every_member(nets, constant_critic):
    q = nets.q_all(constant_critic, *_z_a())
    np.testing.assert_allclose(q, np.repeat(CONSTANT_Q[:, None], 3, axis=1))


def test_sample_members_are_distinct(nets):
    members = jax.vmap(nets.sample_members)(jax.random.split(jax.random.key(0), 500))
    assert members.shape == (500, 2)
    assert np.all(members[:, 0] != members[:, 1])
    assert set(np.unique(members).tolist()) == {0, 1, 2, 3, 4}


def test_q_min_is_min_of_two_distinct_members(nets, constant_critic):
    critic = constant_critic
    z, a = _z_a()
    keys = jax.random.split(jax.random.key(1), 2000)
    q = np.asarray(jax.jit(jax.vmap(lambda k: nets.q_min(critic, z, a, k)))(keys))
    assert np.all(q == q[:, :1])  # one draw per call, shared by the batch
    counts = collections.Counter(q[:, 0].tolist())
    # A distinct pair from {1, 2, 4, 8, 16} (10 pairs): min = 1 in 4 pairs, 2 in 3, 4 in 2, 8 in 1, 16 never
    # (16 would need the same member drawn twice).
    assert set(counts) == {1.0, 2.0, 4.0, 8.0}
    for value, pairs in ((1.0, 4), (2.0, 3), (4.0, 2), (8.0, 1)):
        assert counts[value] / len(keys) == pytest.approx(pairs / 10, abs=0.04)


def test_q_mean_is_mean_of_two_distinct_members(nets, constant_critic):
    critic = constant_critic
    z, a = _z_a()
    keys = jax.random.split(jax.random.key(2), 500)
    q = np.asarray(jax.jit(jax.vmap(lambda k: nets.q_mean(critic, z, a, k)))(keys))[:, 0]
    pair_means = {(CONSTANT_Q[i] + CONSTANT_Q[j]) / 2 for i in range(5) for j in range(i + 1, 5)}
    # Means of distinct pairs (1.5, 2.5, 3, ...) are never a single member's value (which a repeated draw would give).
    assert set(q.tolist()) == pair_means


def test_q_sample_size_equal_to_ensemble_uses_all_members():
    nets = make_networks(dataclasses.replace(SMALL, q_sample_size=5), 5, 2)
    critic = _constant_critics(nets)
    z, a = _z_a()
    assert float(nets.q_min(critic, z, a, jax.random.key(0))[0]) == 1.0
    assert float(nets.q_mean(critic, z, a, jax.random.key(0))[0]) == pytest.approx(CONSTANT_Q.mean())


def test_policy_respects_asymmetric_bounds():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
    nets = make_networks(SMALL, observation_size=5, action_size=2, action_low=low, action_high=high)
    np.testing.assert_allclose(nets.action_scale, [2.0, 0.5])
    np.testing.assert_allclose(nets.action_bias, [0.0, 0.5])
    params = nets.init_actor(jax.random.key(0))
    out = params["params"]["Linear_2"]
    big = {"params": {**params["params"], "Linear_2": {**out, "kernel": out["kernel"] * 100.0}}}  # saturate tanh
    a = np.asarray(nets.policy(big, jax.random.normal(jax.random.key(1), (64, 16))))
    assert np.all(a >= low - 1e-6) and np.all(a <= high + 1e-6)
    assert a[:, 0].max() > 1.9 and a[:, 0].min() < -1.9  # uses the full range of the first dimension


def test_bad_action_bounds_raise():
    with pytest.raises(ValueError, match="high > low"):
        make_networks(SMALL, observation_size=5, action_size=2, action_low=1.0, action_high=1.0)
