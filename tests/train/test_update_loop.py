"""The trainer's update loop under a seed vmap: its trip count and the delayed actor's branch stay unbatched, and the
results equal those of the batched program and of each seed run alone."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from benchmarks.update_throughput import synthetic_replay
from mjx_iqrl import config
from mjx_iqrl.training import make_training_agent, make_update_loop

# Compilation is these tests' time (tiny networks, few updates): unoptimised, tests/agent/test_update.py and
# tests/train/test_update_loop.py together ran in 119 s instead of 209 s on one core.
pytestmark = pytest.mark.unoptimized

SEEDS, UPDATES, BATCH = 3, 5, 8


@pytest.fixture(scope="module")
def setup():
    cfg = config.compose(
        [
            "task=cartpole-swingup",
            "agent.latent_dim=8",
            "agent.mlp_dims=[16]",
            "agent.enc_mlp_dims=[16]",
            "agent.num_critics=2",
            f"train.batch_size={BATCH}",
        ]
    )
    env = envs.make(cfg.task.name)
    agent = make_training_agent(cfg, env)
    keys = jax.random.split(jax.random.PRNGKey(0), SEEDS)
    states = jax.vmap(agent.init)(keys)
    buffers = jax.vmap(lambda k: synthetic_replay(k, 1000, env.observation_size, env.action_size))(keys)
    # Different update indices per call would be a bug in the trainer; here every seed is at update 1.
    args = (states, buffers, jnp.full((SEEDS,), UPDATES, jnp.int32), jnp.ones((SEEDS,), jnp.int32), keys)
    return agent, cfg.agent.horizon, args


def _loop_jaxpr(agent, horizon, args, axis_name):
    loop = make_update_loop(agent, BATCH, horizon, axis_name)
    return jax.make_jaxpr(jax.vmap(loop, axis_name="seed"))(*args)


def test_trip_count_and_actor_branch_are_unbatched_under_the_seed_vmap(setup):
    """With the seed axis named, the loop's predicate is one scalar and the actor step is a real `cond`; without
    it both are batched (a [S] predicate, and the cond lowered to a select over the actor's state)."""
    agent, horizon, args = setup
    for axis_name, predicate_shape, has_cond in (("seed", (), True), (None, (SEEDS,), False)):
        jaxpr = _loop_jaxpr(agent, horizon, args, axis_name)
        (loop,) = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "while"]
        (predicate,) = loop.params["cond_jaxpr"].jaxpr.outvars
        assert predicate.aval.shape == predicate_shape, axis_name
        assert ("cond[" in str(jaxpr)) == has_cond, axis_name


def test_unbatched_loop_equals_the_batched_one_and_separate_seeds(setup):
    agent, horizon, args = setup
    run = lambda axis_name: jax.jit(jax.vmap(make_update_loop(agent, BATCH, horizon, axis_name), axis_name="seed"))
    unbatched, batched = run("seed")(*args), run(None)(*args)
    alone = jax.jit(make_update_loop(agent, BATCH, horizon))
    for a, b in zip(jax.tree.leaves(unbatched), jax.tree.leaves(batched), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for i in range(SEEDS):
        single = alone(*jax.tree.map(lambda x, i=i: x[i], args))
        for a, b in zip(jax.tree.leaves(unbatched), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-6)
    # Updates 2..6 (first index 1): the actor steps on updates 2, 4 and 6, so 3 of the 5.
    np.testing.assert_array_equal(np.asarray(unbatched.sums["actor_updated"]), 3.0)
