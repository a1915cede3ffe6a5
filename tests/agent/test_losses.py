"""Losses and episode-boundary arithmetic against hand-computed numbers and a plain Python loop."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl.agent import AgentConfig, Batch, LatentTransition, losses, make_networks, nstep_return, valid_mask

SMALL = AgentConfig(latent_dim=8, mlp_dims=(32, 32), enc_mlp_dims=(32,), horizon=3, nstep=2)


# Cosine similarity and the consistency aggregation.


def test_cosine_similarity_by_hand():
    a = jnp.array([[1.0, 0.0], [3.0, 4.0], [1.0, 2.0], [0.0, 0.0]])
    b = jnp.array([[1.0, 1.0], [6.0, 8.0], [-1.0, -2.0], [1.0, 0.0]])
    # (1,0).(1,1) / (1 * sqrt 2) = 1/sqrt2; parallel -> 1; opposite -> -1; zero vector -> 0 / (eps * 1) = 0.
    np.testing.assert_allclose(losses.cosine_similarity(a, b), [1 / np.sqrt(2), 1.0, -1.0, 0.0], rtol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(losses.cosine_similarity(x, b)))(a)
    assert np.all(np.isfinite(grad))  # finite even at the zero vector


def test_consistency_term_maximises_cosine():
    target = jnp.array([[[1.0, 0.0]]])
    perfect = losses.consistency_per_step(target, target, use_cosine=True)
    orthogonal = losses.consistency_per_step(jnp.array([[[0.0, 1.0]]]), target, use_cosine=True)
    opposite = losses.consistency_per_step(-target, target, use_cosine=True)
    # -cos: perfect -1 < orthogonal 0 < opposite +1 (the reference's +cos would rank them the other way round).
    np.testing.assert_allclose([perfect[0, 0], orthogonal[0, 0], opposite[0, 0]], [-1.0, 0.0, 1.0], atol=1e-6)
    # MSE variant: mean((0 - 1)^2, (1 - 0)^2) = 1.
    mse = losses.consistency_per_step(jnp.array([[[0.0, 1.0]]]), target, use_cosine=False)
    np.testing.assert_allclose(mse, [[1.0]])


class TestHorizonWeightedMean(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_perfect_predictions(self):
        # Every term -1, all valid, H = 3, rho = 0.9: (1/3) * -(1 + 0.9 + 0.81) = -2.71 / 3.
        per_step = -jnp.ones((2, 3))
        out = self.variant(lambda p, v: losses.horizon_weighted_mean(p, v, 0.9))(per_step, jnp.ones((2, 3)))
        assert float(out) == pytest.approx(-2.71 / 3, rel=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_rho_weighting_and_mask(self):
        # Terms per (b, t): b0 = [0.2, 0.4, 0.6], b1 = [1.0, -1.0, 0.5]; done b0 = [0, 1, 0] so b0's step 2 is masked.
        per_step = jnp.array([[0.2, 0.4, 0.6], [1.0, -1.0, 0.5]])
        done = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        valid = valid_mask(done)
        np.testing.assert_array_equal(valid, [[1, 1, 0], [1, 1, 1]])
        # Batch means: t0 (0.2 + 1.0) / 2 = 0.6; t1 (0.4 - 1.0) / 2 = -0.3; t2 (0 + 0.5) / 2 = 0.25.
        # With rho = 0.5: (0.6 + 0.5 * -0.3 + 0.25 * 0.25) / 3 = (0.6 - 0.15 + 0.0625) / 3 = 0.5125 / 3.
        out = self.variant(lambda p, v: losses.horizon_weighted_mean(p, v, 0.5))(per_step, valid)
        assert float(out) == pytest.approx(0.5125 / 3, rel=1e-6)


def test_valid_mask_is_cumulative():
    done = jnp.array([[0, 0, 1, 0, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], jnp.float32)
    # The step where done fires is still valid (its next obs is the true final obs); everything after is not.
    np.testing.assert_array_equal(valid_mask(done), [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]])


# n-step returns.


def _nstep_loop(reward, terminated, done, n, gamma):
    """Plain Python: walk forward from t = 0, stop after the first done step or after n steps."""
    out = []
    for r, term, d in zip(reward.tolist(), terminated.tolist(), done.tolist(), strict=True):
        ret, m, discount = 0.0, n, gamma**n * (1.0 - term[n - 1])
        for t in range(n):
            ret += gamma**t * r[t]
            if d[t]:
                m, discount = t + 1, gamma ** (t + 1) * (1.0 - term[t])
                break
        out.append((ret, discount, m))
    return np.array(out)


HAND_REWARD = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [5.0, 1.0, 1.0, 1.0]])
# Row 0: no episode end. Row 1: truncation after t = 1. Row 2: termination after t = 1. Row 3: truncation after t = 0.
HAND_DONE = np.array([[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], np.float32)
HAND_TERMINATED = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], np.float32)


class TestNStep(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_cases_n3(self):
        g = 0.9
        fn = self.variant(lambda r, t, d: nstep_return(r, t, d, 3, g))
        out = fn(HAND_REWARD, HAND_TERMINATED, HAND_DONE)
        # Row 0: 1 + 0.9 * 2 + 0.81 * 3 = 5.23, bootstrap obs[3] with 0.9^3 = 0.729.
        # Row 1: truncated after t = 1: 1 + 1.8 = 2.8, bootstrap the true final obs[2] with 0.9^2 = 0.81.
        # Row 2: terminated after t = 1: 2.8, no bootstrap (discount 0), index 2.
        # Row 3: truncated after t = 0: 5, bootstrap obs[1] with 0.9.
        np.testing.assert_allclose(out.reward, [5.23, 2.8, 2.8, 5.0], rtol=1e-6)
        np.testing.assert_allclose(out.discount, [0.729, 0.81, 0.0, 0.9], rtol=1e-6)
        np.testing.assert_array_equal(out.next_index, [3, 2, 2, 1])

    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_cases_n1(self):
        fn = self.variant(lambda r, t, d: nstep_return(r, t, d, 1, 0.99))
        out = fn(HAND_REWARD, HAND_TERMINATED, HAND_DONE)
        # n = 1 is discounted by gamma (the reference uses 1.0): r_0 + 0.99 * Q(obs[1]); row 3 truncates but bootstraps.
        np.testing.assert_allclose(out.reward, [1.0, 1.0, 1.0, 5.0])
        np.testing.assert_allclose(out.discount, [0.99] * 4, rtol=1e-6)
        np.testing.assert_array_equal(out.next_index, [1, 1, 1, 1])

    @chex.variants(with_jit=True, without_jit=True)
    def test_random_windows_against_loop(self):
        rng = np.random.default_rng(0)
        reward = rng.normal(size=(64, 5)).astype(np.float32)
        done = (rng.uniform(size=(64, 5)) < 0.25).astype(np.float32)
        terminated = done * (rng.uniform(size=(64, 5)) < 0.5)
        for n in (1, 3, 5):
            out = self.variant(lambda r, t, d, n=n: nstep_return(r, t, d, n, 0.97))(reward, terminated, done)
            expected = _nstep_loop(reward, terminated, done, n, 0.97)
            np.testing.assert_allclose(out.reward, expected[:, 0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(out.discount, expected[:, 1], rtol=1e-5)
            np.testing.assert_array_equal(out.next_index, expected[:, 2])


def test_nstep_longer_than_window_raises():
    with pytest.raises(ValueError, match="nstep"):
        nstep_return(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 3)), 4, 0.99)


# Losses on networks.


@pytest.fixture(scope="module")
def nets():
    return make_networks(SMALL, observation_size=5, action_size=2)


@pytest.fixture(scope="module")
def world_model(nets):
    return nets.init_world_model(jax.random.key(0))


def _batch(key, batch_size=4, horizon=3, obs_size=5, act_size=2):
    key_obs, key_act = jax.random.split(key)
    return Batch(
        obs=jax.random.normal(key_obs, (batch_size, horizon + 1, obs_size)) * 2.0,
        action=jax.random.uniform(key_act, (batch_size, horizon, act_size), minval=-1, maxval=1),
        reward=jnp.ones((batch_size, horizon)),
        terminated=jnp.zeros((batch_size, horizon)),
        done=jnp.zeros((batch_size, horizon)).at[0, 0].set(1.0),  # window 0 ends after its first transition
    )


def test_world_model_loss_ignores_steps_after_the_first_done(nets, world_model):
    loss_fn = jax.jit(lambda p, b: losses.world_model_loss(nets, p, p.encoder, None, b)[0])
    batch = _batch(jax.random.key(1))
    base = loss_fn(world_model, batch)
    # Window 0 ended after transition 0: obs[0, 2:] and action[0, 1:] belong to the next episode.
    other_episode = batch.replace(
        obs=batch.obs.at[0, 2:].add(5.0), action=batch.action.at[0, 1:].multiply(-1.0), reward=batch.reward * 3
    )
    assert float(loss_fn(world_model, other_episode)) == pytest.approx(float(base), abs=1e-6)
    # The final observation obs[0, 1] of the ended episode is a real target, and window 1 is fully valid.
    assert float(loss_fn(world_model, batch.replace(obs=batch.obs.at[0, 1].add(5.0)))) != pytest.approx(float(base))
    assert float(loss_fn(world_model, batch.replace(obs=batch.obs.at[1, 3].add(5.0)))) != pytest.approx(float(base))


def test_world_model_loss_rejects_wrong_horizon(nets, world_model):
    batch = _batch(jax.random.key(1), horizon=4)
    with pytest.raises(ValueError, match="horizon"):
        losses.world_model_loss(nets, world_model, world_model.encoder, None, batch)


@pytest.fixture(scope="module")
def critic_params(nets):
    return jax.jit(nets.init_critics)(jax.random.key(3))


@pytest.fixture(scope="module")
def actor_params(nets):
    return jax.jit(nets.init_actor)(jax.random.key(6))


@pytest.fixture(scope="module")
def latents(nets, world_model):
    """16 quantised latents."""
    return jax.jit(nets.encode)(world_model.encoder, jax.random.normal(jax.random.key(5), (16, 5)))


def _constant_critics(critic_params, values):
    """Member i outputs values[i] for every input: zero output kernel, bias values[i]."""
    out = {"kernel": jnp.zeros_like(critic_params["params"]["Linear_2"]["kernel"])}
    out["bias"] = jnp.asarray(values, jnp.float32)[:, None]
    return {"params": {**critic_params["params"], "Linear_2": out}}


def _transition(latents, nstep_reward, discount):
    batch_size = len(nstep_reward)
    return LatentTransition(
        z=latents[:batch_size],
        action=jnp.zeros((batch_size, 2)),
        nstep_reward=jnp.asarray(nstep_reward, jnp.float32),
        discount=jnp.asarray(discount, jnp.float32),
        next_z=latents[::-1][:batch_size],
    )


def test_td_target_uses_min_of_two_distinct_targets(nets, critic_params, actor_params, latents):
    target_critic = _constant_critics(critic_params, [1.0, 2.0, 4.0, 8.0, 16.0])
    transition = _transition(latents, nstep_reward=[0.5, 1.0], discount=[0.5, 0.0])
    fn = jax.jit(jax.vmap(lambda k: losses.td_target(nets, target_critic, actor_params, transition, k)))
    y = np.asarray(fn(jax.random.split(jax.random.key(7), 200)))
    # Row 0: 0.5 + 0.5 * min of a distinct pair in {1, 2, 4, 8} -> {1.0, 1.5, 2.5, 4.5}; 16 (-> 8.5) never.
    assert set(y[:, 0].tolist()) == {1.0, 1.5, 2.5, 4.5}
    # Row 1: discount 0 (terminated): y = R exactly.
    np.testing.assert_array_equal(y[:, 1], 1.0)


def test_target_policy_smoothing_is_clipped(latents):
    cfg = dataclasses.replace(SMALL, policy_noise=10.0, noise_clip=0.3)
    wide = make_networks(cfg, 5, 2, action_low=-4.0, action_high=4.0)  # scale 4: noise within +-1.2, rarely clipped

    @jax.jit
    def run(key):
        actor = wide.init_actor(key)
        return wide.policy(actor, latents), losses.smoothed_target_action(wide, actor, latents, key)

    clean, noisy = run(jax.random.key(9))
    diff = np.abs(np.asarray(noisy - clean))
    # N(0, 10^2) almost always exceeds 0.3, so nearly every coordinate sits at the clip 0.3 * scale 4 = 1.2.
    assert diff.max() <= 1.2 + 1e-5
    assert np.mean(np.isclose(diff, 1.2, atol=1e-5)) > 0.9


def test_critic_loss_by_hand(nets, critic_params, actor_params, latents):
    # Online critics output 1, 2, 4, 8, 16; targets y = R (discount 0) = [0, 1].
    # R = 0: 1 + 4 + 16 + 64 + 256 = 341; R = 1: 0 + 1 + 9 + 49 + 225 = 284; mean over 10 = 62.5.
    critic = _constant_critics(critic_params, [1.0, 2.0, 4.0, 8.0, 16.0])
    transition = _transition(latents, nstep_reward=[0.0, 1.0], discount=[0.0, 0.0])
    loss, aux = jax.jit(lambda c, k: losses.critic_loss(nets, c, c, actor_params, transition, k))(
        critic, jax.random.key(10)
    )
    assert float(loss) == pytest.approx(62.5)
    assert float(aux["q_mean"]) == pytest.approx(31 / 5)
    assert float(aux["td_target_mean"]) == pytest.approx(0.5)


def test_actor_loss_holds_the_critic_fixed(nets, critic_params, actor_params, latents):
    critic, actor, z = critic_params, actor_params, latents
    key = jax.random.key(13)

    @jax.jit
    def run(actor, critic):
        loss_fn = lambda a, c: losses.actor_loss(nets, a, c, z, key)[0]
        members = nets.sample_members(key)
        expected = -jnp.mean(nets.q_members(critic, z, nets.policy(actor, z), members))
        return loss_fn(actor, critic), expected, jax.grad(loss_fn, argnums=(0, 1))(actor, critic)

    loss, expected, (actor_grad, critic_grad) = run(actor, critic)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(critic_grad))
    assert any(float(jnp.max(jnp.abs(g))) > 0.0 for g in jax.tree.leaves(actor_grad))
