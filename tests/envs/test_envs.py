"""Invariants over every registered task, the training wrappers, and bad input to the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import physics
from envs.errors import ConfigError
from tests.envs import fake, oracle

TASKS = oracle.params(envs.list_tasks())
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("task", TASKS)
def test_task_invariants(task):
    """Jitted reset and step; obs shape = observation_size; finite; reward in [0, 1]; determinism per key."""
    c = oracle.compiled(task)
    env = c.env
    s0 = c.reset(jax.random.key(0))
    assert s0.obs.shape == (env.observation_size,)
    assert env.action_size == len(env.action_bounds[0]) > 0
    again = c.reset(jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(again.obs), np.asarray(s0.obs))
    np.testing.assert_array_equal(np.asarray(again.pipeline_state.qpos), np.asarray(s0.pipeline_state.qpos))
    other = c.reset(jax.random.key(1))
    assert not np.allclose(np.asarray(other.pipeline_state.qpos), np.asarray(s0.pipeline_state.qpos))

    low, high = env.action_bounds
    rng = np.random.default_rng(0)
    state = s0
    for _ in range(3):
        state = c.step(state, rng.uniform(low, high).astype(np.float32))
        assert state.obs.shape == (env.observation_size,)
        assert np.all(np.isfinite(np.asarray(state.obs)))
        assert 0.0 <= float(state.reward) <= 1.0
        assert float(state.done) == 0.0
        assert all(k.startswith("reward/") for k in state.metrics)


@pytest.mark.parametrize("task", envs.list_tasks())
def test_episode_length_and_control_timestep_match_dm_control(task):
    """dm_control's episode (run to its LAST step) has exactly `episode_length` steps of `control_dt` seconds."""
    env = oracle.compiled(task).env
    dm_env = oracle.load(task, 0)
    dm_env.reset()
    spec = dm_env.action_spec()
    steps = 0
    while not dm_env.step(np.zeros(spec.shape)).last():
        steps += 1
    assert steps + 1 == env.episode_length == 1000
    assert env.control_dt == pytest.approx(dm_env.control_timestep())


@pytest.fixture(scope="module")
def pendulum():
    """The cheapest model to compile, for the wrapper tests that compile whole programs."""
    return oracle.compiled("pendulum-swingup").env


def test_time_limit_truncates_after_1000_env_steps_with_action_repeat():
    """With action repeat 2, the 500th agent step (1000 env steps) truncates; done stays 0; rewards are summed."""
    env = fake.CountingEnv()
    wrapped = envs.TimeLimit(envs.ActionRepeat(env, 2), 1000 // 2)

    @jax.jit
    def run(state):
        def body(s, _):
            s = wrapped.step(s, jnp.array([0.25]))
            return s, (s.info["truncation"], s.done, s.info["steps"], s.reward, s.obs[1])

        return jax.lax.scan(body, state, None, length=500)

    _, (truncation, done, steps, reward, env_steps) = run(wrapped.reset(jax.random.key(3)))
    assert np.all(np.asarray(truncation[:-1]) == 0) and float(truncation[-1]) == 1.0
    assert np.all(np.asarray(done) == 0)
    assert int(steps[-1]) == 500 and float(env_steps[-1]) == 1000
    # Each agent step sums the rewards of its two env steps: 2 * (0.5 + 0.1 * 0.25) = 1.05.
    np.testing.assert_allclose(np.asarray(reward), 1.05, rtol=1e-6)


def test_termination_is_done_not_truncation():
    """An env that terminates sets done; the time limit does not also claim a truncation."""
    env = fake.CountingEnv(terminate_at=1.5)
    wrapped = envs.TimeLimit(env, 3)
    state = wrapped.reset(jax.random.key(0))
    state = wrapped.step(state, jnp.array([1.0]))
    state = wrapped.step(state, jnp.array([1.0]))
    state = wrapped.step(state, jnp.array([1.0]))  # |position| >= 2 > 1.5 at the limit step
    assert float(state.done) == 1.0 and float(state.info["truncation"]) == 0.0


@pytest.mark.parametrize("task", TASKS)
def test_time_limit_on_every_task(task):
    """The real task under TimeLimit(episode_length): truncation exactly at step 1000, never done.

    The counter starts at 997 so the three steps reuse the compiled task step; the full count is tested above.
    """
    c = oracle.compiled(task)
    wrapped = envs.TimeLimit(_Jitted(c), c.env.episode_length)
    state = wrapped.reset(jax.random.key(0))
    state = state.replace(info={**state.info, "steps": jnp.asarray(c.env.episode_length - 3, jnp.int32)})
    flags = []
    for _ in range(3):
        state = wrapped.step(state, jnp.zeros(c.env.action_size))
        flags.append((int(state.info["steps"]), float(state.info["truncation"]), float(state.done)))
    assert flags == [(998, 0.0, 0.0), (999, 0.0, 0.0), (1000, 1.0, 0.0)]


class _Jitted:
    """A compiled task seen through the env API, so that wrappers called eagerly reuse its compiled step."""

    def __init__(self, c):
        self.reset, self._step = c.reset, c.step

    def step(self, state, action):
        """The compiled step sees the task's own (empty) info, so it is not traced again."""
        return self._step(state.replace(info={}), action).replace(info=state.info)


def test_auto_reset_keeps_final_obs_and_rerandomises(pendulum):
    """At the time limit: final_obs is the true last observation, the new episode is fresh and random per env."""
    n, length = 3, 10
    auto = envs.wrap_for_training(pendulum, num_envs=n, action_repeat=1, episode_length=length)
    plain = envs.Vmap(envs.TimeLimit(pendulum, length), n)
    actions = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (length + 1, n, 1)), jnp.float32)

    @oracle.jit
    def run(key):
        s_auto, s_plain = auto.reset(key), plain.reset(jax.random.split(key)[0])
        first_obs = s_auto.obs

        def body(carry, a):
            sa, sp = carry
            sa, sp = auto.step(sa, a), plain.step(sp, a)
            return (sa, sp), (sa.obs, sa.info["final_obs"], sa.info["truncation"], sp.obs, sa.info["steps"])

        _, out = jax.lax.scan(body, (s_auto, s_plain), actions)
        return first_obs, out

    first_obs, (obs, final_obs, truncation, plain_obs, steps) = run(jax.random.key(0))
    end = length - 1
    # Before the end, final_obs is the observation; at the end it is the pre-reset observation of the same episode.
    np.testing.assert_allclose(np.asarray(final_obs[: end + 1]), np.asarray(plain_obs[: end + 1]), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(final_obs[:end]), np.asarray(obs[:end]))
    assert np.all(np.asarray(truncation[end]) == 1) and np.all(np.asarray(truncation[:end]) == 0)
    # The observation returned at the end starts a new, re-randomised episode.
    new_obs = np.asarray(obs[end])
    assert not np.allclose(new_obs, np.asarray(final_obs[end]))
    assert not np.allclose(new_obs, np.asarray(first_obs)), "reset reused the first episode's initial state"
    assert len({tuple(np.round(o, 6)) for o in new_obs}) == n, "envs got the same initial state"
    assert np.all(np.asarray(steps[end]) == 0) and np.all(np.asarray(steps[end + 1]) == 1)
    # A pendulum episode starts at rest.
    assert np.all(new_obs[:, 2] == 0.0)


def test_auto_reset_is_one_branch_under_a_seed_vmap():
    """Under vmap over seeds with axis_name, the reset stays a real `cond` (not a select that resets every step),
    and results equal those of the seeds run one by one."""
    env = fake.CountingEnv()
    auto = envs.wrap_for_training(env, num_envs=2, action_repeat=1, episode_length=4, axis_name="seed")
    single = envs.wrap_for_training(env, num_envs=2, action_repeat=1, episode_length=4)
    keys = jax.random.split(jax.random.key(1), 2)
    states = jax.vmap(auto.reset)(keys)
    action = jnp.full((2, 2, 1), 0.1)
    assert "cond[" in str(jax.make_jaxpr(jax.vmap(auto.step, axis_name="seed"))(states, action))
    assert "cond[" not in str(jax.make_jaxpr(jax.vmap(single.step))(states, action)), "expected a select here"

    def rollout(wrapped, state, vmapped):
        step = jax.vmap(wrapped.step, axis_name="seed") if vmapped else wrapped.step
        a = action if vmapped else action[0]
        return jax.lax.fori_loop(0, 5, lambda _, s: step(s, a), state)

    batched = jax.jit(lambda s: rollout(auto, s, True))(states)
    alone = jax.jit(lambda s: rollout(single, s, False))
    for i in range(2):
        np.testing.assert_allclose(np.asarray(batched.obs[i]), np.asarray(alone(single.reset(keys[i])).obs), atol=1e-6)


def test_unknown_task_lists_known_tasks():
    with pytest.raises(ConfigError) as err:
        envs.make("cheetah-walk")
    message = str(err.value)
    assert "\n" not in message and "cheetah-run" in message and "walker-walk" in message


def test_envs_stands_on_its_own():
    """`envs` imports and builds a task in a fresh interpreter without importing the trainer (`mjx_iqrl`)."""
    code = (
        "import sys, envs; envs.make('cartpole-swingup'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mjx_iqrl', 'benchmarks', 'tests'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_dm_control_names_are_aliases():
    assert envs.resolve("cartpole-swingup") == "cartpole-swingup"
    assert envs.resolve("cheetah_run") == "cheetah-run"


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"nonsense": 1}, "unknown env override 'nonsense'"),
        ({"physics": "turbo"}, "physics='turbo'"),
        ({"physics": 3}, "physics=3"),
        ({"impl": "cuda"}, "impl='cuda'"),
        ({"iterations": "many"}, "iterations='many'"),
        ({"iterations": 0}, "iterations=0"),
    ],
)
def test_bad_overrides_fail_with_one_line(overrides, fragment):
    with pytest.raises(ConfigError) as err:
        envs.make("cartpole-swingup", **overrides)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_missing_model_files_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(physics.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(physics.ModelFilesError, match="dm_control is not installed"):
        envs.make("cartpole-swingup")


def test_fast_profile_changes_only_solver_settings():
    """`fast` keeps the control timestep and observation layout and changes the documented solver settings."""
    dmc, fast = oracle.compiled("walker-walk").env, envs.make("walker-walk", physics="fast")
    assert fast.control_dt == pytest.approx(dmc.control_dt)
    assert fast.mj_model.opt.iterations == 2 and dmc.mj_model.opt.iterations == 100
    assert fast.n_substeps == 5 and dmc.n_substeps == 10
    assert fast.observation_size == dmc.observation_size


def test_staged_env_equals_the_compiled_env():
    """The oracle runs reset, reset_to and step as the env's stages around physics compiled once per model; they
    compose to what `jax.jit` of the env's own reset, reset_to and step computes, with the same compiler options
    (pendulum, 5 steps)."""
    c = oracle.compiled("pendulum-swingup")
    env = c.env
    reset, reset_to, step = (oracle.jit(f) for f in (env.reset, env.reset_to, env.step))
    key = jax.random.key(3)
    ours, theirs = c.reset(key), reset(key)
    data = theirs.pipeline_state
    copied, copied_jit = c.reset_to(qpos=data.qpos, qvel=data.qvel), reset_to(data.qpos, data.qvel)
    actions = np.random.default_rng(0).uniform(-1, 1, (5, env.action_size)).astype(np.float32)
    pairs = [(ours, theirs), (copied, copied_jit)]
    for action in actions:
        ours, theirs = c.step(ours, action), step(theirs, action)
        pairs.append((ours, theirs))
    for a, b in pairs:
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-6)
