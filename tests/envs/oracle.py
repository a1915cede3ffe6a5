"""Test helpers around dm_control as the oracle, a session-wide cache of compiled tasks, and the heavy-model mark.

Compilation is what the env tests spend their time on, and almost all of it is MJX's physics. So a task's reset,
reset_to and step run here as the env's own stages (`DmcEnv.initial_data`, `copied_data`, `first_state`,
`_before_step`, `after_physics`, see `envs.core`) around two physics programs, `FORWARD` and `PHYSICS_STEP`, that
take the MJX model as an argument: they are compiled once per model and serve every task that shares it (walker's
stand, walk and run; cartpole's four tasks; ...). `test_staged_env_equals_the_compiled_env` checks that the stages
compose to exactly what `oracle.jit(env.reset)` and `oracle.jit(env.step)` compute.
"""

from __future__ import annotations

import copy
import functools

import jax
import mujoco
import pytest
from mujoco import mjx

import envs
from envs import physics, registry
from envs.reference import flat_obs, load, physics_state

__all__ = [
    "Compiled",
    "compiled",
    "dm_control_resets",
    "flat_obs",
    "forwarded_by_mujoco",
    "load",
    "params",
    "physics_state",
]

# Domains whose MJX programs take minutes to compile on two CPU cores. Their per-task tests carry the `heavy` mark
# and belong to the second tier (`slow`), which the default test run deselects (`python -m pytest -m heavy` runs just
# them); `test_heavy_models.py` still compiles and checks one step of each model in the default run.
HEAVY_DOMAINS = ("dog", "humanoid")
# Samples of the initial-state distribution tests (slow tier) and of the domains' initial-state checks.
RESET_BATCH = 64
# Domains whose tasks compile `jax.jit(env.reset)`, `reset_to` and `step` whole, with the model as a constant: the
# staged programs, which take swimmer's 15-link model as an argument, ran for more than ten minutes without
# finishing, where the whole programs compile in about two.
WHOLE_PROGRAM_DOMAINS = ("swimmer",)


def is_heavy(task: str) -> bool:
    """Whether a task's model is one of the heavy ones."""
    return registry.spec(task).dm_control[0] in HEAVY_DOMAINS


def params(tasks: list[str]) -> list:
    """Task names as pytest parameters, the heavy ones marked `heavy` and `slow`."""
    return [pytest.param(t, marks=(pytest.mark.heavy, pytest.mark.slow)) if is_heavy(t) else t for t in tasks]


# The env tests' programs compile with LLVM at -O0 (the suite's flags set -O1 for every other program): they run
# few steps, and LLVM's optimisation is a large part of their compilation. Quadruped's forward and step compile in
# 46 s against 63 s and run 50 steps in 1.4 s against 0.6 s; manipulator's in 44 s against 61 s, 50 steps in 4.2 s
# against 1.2 s; the dog's step compiles in 144 s against 162 s and runs as fast (1.3 s). The default tier's env
# tests took 819 s against 1173 s. The shared training program would run 1000 updates in 19 s against 5 s, so the
# training tests keep -O1. (`unoptimized`'s option set also skips LLVM's expensive passes, which made contact
# solvers run far too slowly.)
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def jit(fn, **kwargs):
    """`jax.jit` with the env tests' compiler options."""
    return jax.jit(fn, compiler_options=COMPILER_OPTIONS, **kwargs)


@functools.partial(jit, static_argnames="precision")
def FORWARD(model, data, precision: str):
    """The reset's forward pass (actuation disabled), compiled once per model."""
    with jax.default_matmul_precision(precision):
        return physics.forward(model, data, actuation=False)


@functools.partial(jit, static_argnames=("n_substeps", "precision"))
def PHYSICS_STEP(model, data, n_substeps: int, precision: str):
    """One control step's physics sub-steps, compiled once per model."""
    with jax.default_matmul_precision(precision):
        return physics.physics_step(model, data, n_substeps)


class Compiled:
    """One task's env with its jitted stages, built once per test session; the physics is shared per model."""

    def __init__(self, task: str, **overrides):
        self.task = task
        self.env = env = envs.make(task, **overrides)
        self._precision = env.config.matmul_precision

        def staged(fn):
            def run(*args):
                with env.precision():
                    return fn(*args)

            return jit(run)

        self._initial_data = staged(env.initial_data)
        self._copied_data = jit(env.copied_data)
        self._first_state = staged(env.first_state)
        self._before_step = staged(lambda state, action: env._before_step(state.pipeline_state, action))
        self._after_physics = staged(env.after_physics)

    def _forward(self, data):
        return FORWARD(self.env.mjx_model, data, precision=self._precision)

    def reset(self, key):
        """`env.reset(key)`, stage by stage."""
        return self._first_state(self._forward(self._initial_data(key)))

    def resets(self, key, n: int = RESET_BATCH) -> list:
        """`n` resets with the keys `jax.random.split(key, n)`."""
        return [self.reset(k) for k in jax.random.split(key, n)]

    def reset_to(self, **state):
        """`env.reset_to(**state)`, stage by stage."""
        return self._first_state(self._forward(self._copied_data(**state)))

    def step(self, state, action):
        """`env.step(state, action)`, stage by stage."""
        data = PHYSICS_STEP(
            self.env.mjx_model,
            self._before_step(state, action),
            n_substeps=self.env.n_substeps,
            precision=self._precision,
        )
        return self._after_physics(state, data)

    def copy_from(self, dm_env):
        """Our State at dm_control's current physics state (and its per-episode model state)."""
        return self.reset_to(**physics_state(dm_env, self.env))


class WholeProgram(Compiled):
    """A task of `WHOLE_PROGRAM_DOMAINS`: reset, reset_to and step compiled whole, with the model as a constant."""

    def __init__(self, task: str, **overrides):
        super().__init__(task, **overrides)
        self._reset, self._reset_to, self._step = (jit(f) for f in (self.env.reset, self.env.reset_to, self.env.step))

    def reset(self, key):
        """`env.reset(key)`, compiled whole."""
        return self._reset(key)

    def reset_to(self, **state):
        """`env.reset_to(**state)`, compiled whole."""
        return self._reset_to(**state)

    def step(self, state, action):
        """`env.step(state, action)`, compiled whole."""
        return self._step(state, action)


@functools.cache
def compiled(task: str, physics: str = "dmc") -> Compiled:
    """Session-wide cache of compiled tasks, shared by every test module."""
    whole = registry.spec(task).dm_control[0] in WHOLE_PROGRAM_DOMAINS
    return (WholeProgram if whole else Compiled)(task, physics=physics)


def clear() -> None:
    """Drops every compiled task and the shared physics programs."""
    compiled.cache_clear()
    FORWARD.clear_cache()
    PHYSICS_STEP.clear_cache()


def forwarded_by_mujoco(dm_env, env) -> mjx.Data:
    """dm_control's current physics state in our model, forwarded by MuJoCo itself (float64, actuation disabled as
    dm_control's reset does), as MJX data: a first state for `env.step` without compiling MJX's forward pass."""
    model = env.unwrapped.mj_model
    m = copy.copy(model)  # its own options, so that the shared model keeps actuation on
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_ACTUATION
    d = mujoco.MjData(m)
    for name, value in physics_state(dm_env, env).items():
        if name == "time":
            d.time = value
        else:
            getattr(d, name)[:] = value
    mujoco.mj_forward(m, d)
    return mjx.put_data(model, d)


def dm_control_resets(task: str, n: int, seed: int = 1000) -> list:
    """`n` initial observations of dm_control, one freshly loaded environment per seed (seed, seed + 1, ...)."""
    return [flat_obs(load(task, seed + i).reset()) for i in range(n)]


def model_differences(ours, theirs) -> list[str]:
    """Names of the compiled-model arrays (`mujoco.MjModel`) that differ between two models."""
    import numpy as np

    return [
        name
        for name in dir(theirs)
        if isinstance(value := getattr(theirs, name), np.ndarray)
        and not np.array_equal(value, getattr(ours, name), equal_nan=value.dtype.kind == "f")
    ]
