"""The environment API: `State`, `EnvConfig` and `DmcEnv`, the base of every dm_control task on MJX.

A task is pure: `reset(key) -> State` and `step(state, action) -> State`, both jittable and vmappable. `State` has
the fields brax's training wrappers expect (`pipeline_state`, `obs`, `reward`, `done`, `metrics`, `info`). As in
dm_control, tasks never terminate: `done` is raised only when the physics state turns non-finite (dm_control would
raise a PhysicsError there); time limits, action repeat and auto-reset are wrappers (`envs.wrappers`).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct
from jax import Array
from mujoco import mjx

from envs import physics
from envs.errors import ConfigError

# Values of `EnvConfig.matmul_precision` (those of `jax.default_matmul_precision`).
MATMUL_PRECISIONS = ("default", "high", "highest")


@struct.dataclass
class State:
    """One environment state: MJX data, observation, last reward, termination flag, reward terms, wrapper info."""

    pipeline_state: mjx.Data
    obs: Array
    reward: Array
    done: Array
    metrics: dict[str, Array] = struct.field(default_factory=dict)
    info: dict[str, Any] = struct.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Overrides accepted by `envs.make` for every task."""

    # 'dmc': dm_control's own solver settings; 'fast': the task's MJX throughput tuning (see its domain file).
    physics: str = "dmc"
    # MJX backend: 'jax' (runs on CPU and GPU) or 'warp' (MuJoCo Warp, where installed).
    impl: str = "jax"
    # Constraint-solver iterations, overriding the profile's value when set.
    iterations: int | None = None
    # Line-search iterations, overriding the profile's value when set.
    ls_iterations: int | None = None
    # Precision of the float32 matrix products in the physics, observations and rewards (`jax.default_matmul_precision`
    # while tracing reset and step): 'highest' keeps TF32 out of MJX on Ampere and newer GPUs, as MuJoCo Playground
    # advises; 'default' lets XLA choose (TF32 there). CPUs compute float32 either way.
    matmul_precision: str = "highest"

    def __post_init__(self):
        if self.physics not in physics.PROFILES:
            raise ConfigError(f"physics={self.physics!r} is not a profile; known: {', '.join(physics.PROFILES)}")
        if self.impl not in physics.IMPLS:
            raise ConfigError(f"impl={self.impl!r} is not an MJX backend; known: {', '.join(physics.IMPLS)}")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            known = ", ".join(MATMUL_PRECISIONS)
            raise ConfigError(f"matmul_precision={self.matmul_precision!r} is not a precision; known: {known}")
        for name in ("iterations", "ls_iterations"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name}={value!r} must be a positive integer")

    @classmethod
    def from_overrides(cls, task: str, overrides: dict[str, Any]) -> EnvConfig:
        """Builds the config from keyword overrides; an unknown key or a wrongly typed value is a ConfigError."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(f"unknown env override {key!r} for {task}; known: {', '.join(known)}")
            if key in ("physics", "impl", "matmul_precision") and not isinstance(value, str):
                raise ConfigError(f"{key}={value!r} must be a string")
        return cls(**overrides)


class DmcEnv(abc.ABC):
    """Base of a dm_control task on MJX: model tuning, reset/step plumbing, dm_control-exact stepping.

    Subclasses set `XML`, `CONTROL_DT`, `TIME_LIMIT` and `FAST` (the `fast` profile's tuning, documented there),
    may edit the model in `_edit_spec`, and implement `_initialize_episode`, `_get_obs` and `_get_reward`.
    """

    XML: ClassVar[str]
    # Control timestep in seconds; None means one physics step per control step, as dm_control's default.
    CONTROL_DT: ClassVar[float | None] = None
    # Episode duration in seconds (dm_control's `time_limit`).
    TIME_LIMIT: ClassVar[float]
    # Tuning of the `fast` profile.
    FAST: ClassVar[physics.Tuning] = physics.Tuning()

    def __init__(self, config: EnvConfig | None = None):
        self.config = config or EnvConfig()
        spec = physics.load_spec(self.XML)
        self._edit_spec(spec)
        dmc_timestep = spec.option.timestep
        control_dt = self.CONTROL_DT if self.CONTROL_DT is not None else dmc_timestep
        if self.config.physics == "fast":
            physics.apply_tuning(spec, self.FAST)
        physics.apply_tuning(
            spec, physics.Tuning(iterations=self.config.iterations, ls_iterations=self.config.ls_iterations)
        )
        self.mj_model: mujoco.MjModel = physics.compile_model(spec)
        self.mjx_model: mjx.Model = physics.put_model(self.mj_model, self.config.impl)
        n_substeps = control_dt / self.mj_model.opt.timestep
        if abs(n_substeps - round(n_substeps)) > 1e-6:
            raise ValueError(f"control timestep {control_dt} is not a multiple of {self.mj_model.opt.timestep}")
        self.n_substeps = round(n_substeps)
        self._control_dt = control_dt

    # --- Task interface -------------------------------------------------------------------------------------------

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        """Edits the dm_control model before compilation (MJX compatibility, generated parts); default: none."""

    @abc.abstractmethod
    def _initialize_episode(self, data: mjx.Data, key: Array) -> mjx.Data:
        """Sets the randomised initial state, as the dm_control task's `initialize_episode`.

        `data` is the model's default state (mj_resetData) without derived quantities: positions and frames are not
        computed yet.
        """

    @abc.abstractmethod
    def _get_obs(self, data: mjx.Data) -> Array:
        """The dm_control observation dict's entries, in its order, flattened and concatenated."""

    @abc.abstractmethod
    def _get_reward(self, data: mjx.Data) -> tuple[Array, dict[str, Array]]:
        """The dm_control reward and its named terms (logged as `reward/<name>`)."""

    def _before_step(self, data: mjx.Data, action: Array) -> mjx.Data:
        """Applies the action; as dm_control's `Task.before_step`, it becomes the actuator controls."""
        return data.replace(ctrl=action)

    # --- API ------------------------------------------------------------------------------------------------------

    def reset(self, key: Array) -> State:
        """Starts an episode from a fresh random initial state."""
        with self.precision():
            data = physics.forward(self.mjx_model, self.initial_data(key), actuation=False)
            return self.first_state(data)

    def reset_to(
        self,
        qpos: Array,
        qvel: Array,
        act: Array | None = None,
        ctrl: Array | None = None,
        qacc_warmstart: Array | None = None,
        time: float | Array = 0.0,
        mocap_pos: Array | None = None,
        mocap_quat: Array | None = None,
    ) -> State:
        """Starts from a given physics state (e.g. one copied from dm_control), as dm_control's `reset_context`.

        `mocap_pos`/`mocap_quat` place the tasks' per-episode targets (see `dm_control_model_state`).
        """
        data = self.copied_data(qpos, qvel, act, ctrl, qacc_warmstart, time, mocap_pos, mocap_quat)
        with self.precision():
            return self.first_state(physics.forward(self.mjx_model, data, actuation=False))

    def step(self, state: State, action: Array) -> State:
        """Advances one control step."""
        with self.precision():
            data = self._before_step(state.pipeline_state, action)
            return self.after_physics(state, physics.physics_step(self.mjx_model, data, self.n_substeps))

    # --- Stages of reset and step ---------------------------------------------------------------------------------
    # reset = forward(initial_data) then first_state; reset_to = forward(copied_data) then first_state; step =
    # _before_step, physics_step, then after_physics. The physics (`envs.physics.forward`, `physics_step`) depends
    # on the model alone, so a caller can compile it once for every task of a model (the test oracle does).

    def initial_data(self, key: Array) -> mjx.Data:
        """A fresh random initial physics state, before the reset's forward pass."""
        # dm_control also runs a forward pass before `initialize_episode`; only tasks that read its (then stale)
        # results run it themselves (cheetah), which keeps it out of every other task's reset.
        return self._initialize_episode(self._blank_data(), key)

    def copied_data(
        self,
        qpos: Array,
        qvel: Array,
        act: Array | None = None,
        ctrl: Array | None = None,
        qacc_warmstart: Array | None = None,
        time: float | Array = 0.0,
        mocap_pos: Array | None = None,
        mocap_quat: Array | None = None,
    ) -> mjx.Data:
        """The model's default state with the given parts replaced (`reset_to`'s), before the forward pass."""
        data = self._blank_data()
        data = data.replace(qpos=jnp.asarray(qpos, data.qpos.dtype), qvel=jnp.asarray(qvel, data.qvel.dtype))
        data = data.replace(time=jnp.asarray(time, data.time.dtype))
        optional = {
            "act": act,
            "ctrl": ctrl,
            "qacc_warmstart": qacc_warmstart,
            "mocap_pos": mocap_pos,
            "mocap_quat": mocap_quat,
        }
        for name, value in optional.items():
            if value is not None:
                data = data.replace(**{name: jnp.asarray(value, getattr(data, name).dtype)})
        return data

    def first_state(self, data: mjx.Data) -> State:
        """dm_control's reset epilogue after the forward pass (with actuation disabled): the first observation."""
        _, terms = self._get_reward(data)
        zero = jnp.zeros((), jnp.float32)
        return State(
            pipeline_state=data,
            obs=self._get_obs(data),
            reward=zero,
            done=zero,
            metrics={f"reward/{k}": jnp.zeros_like(v, jnp.float32) for k, v in terms.items()},
            info={},
        )

    def after_physics(self, state: State, data: mjx.Data) -> State:
        """The State after a control step's physics: reward, observation, and `done` if the physics diverged."""
        reward, terms = self._get_reward(data)
        obs = self._get_obs(data)
        finite = jnp.isfinite(data.qpos).all() & jnp.isfinite(data.qvel).all() & jnp.isfinite(obs).all()
        return state.replace(
            pipeline_state=data,
            obs=jnp.where(finite, obs, 0.0),
            reward=jnp.where(finite, reward, 0.0).astype(jnp.float32),
            done=(~finite).astype(jnp.float32),
            # Keys that wrappers added (brax's EvalWrapper adds `reward`) are kept, so reset and step give states of
            # the same structure, as scanning wrappers need.
            metrics={**state.metrics, **{f"reward/{k}": jnp.asarray(v, jnp.float32) for k, v in terms.items()}},
        )

    def dm_control_model_state(self, dm_physics: Any) -> dict[str, np.ndarray]:
        """What a dm_control episode keeps in its model rather than its data (targets moved per episode), as
        `reset_to` arguments; none by default."""
        del dm_physics
        return {}

    @property
    def control_dt(self) -> float:
        """Seconds of simulated time per control step."""
        return self._control_dt

    @property
    def episode_length(self) -> int:
        """Control steps per episode (dm_control's time limit over the control timestep)."""
        return math.ceil(self.TIME_LIMIT / self._control_dt - 1e-9)

    @property
    def action_size(self) -> int:
        """Number of actuators."""
        return self.mj_model.nu

    @property
    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper action bounds (the actuators' control ranges, as dm_control's action_spec)."""
        limited = self.mj_model.actuator_ctrllimited.astype(bool)
        low = np.where(limited, self.mj_model.actuator_ctrlrange[:, 0], -np.inf).astype(np.float32)
        high = np.where(limited, self.mj_model.actuator_ctrlrange[:, 1], np.inf).astype(np.float32)
        return low, high

    @functools.cached_property
    def observation_size(self) -> int:
        """Length of the flat observation vector (traced, not hard-coded)."""
        # The observation of the model's default state has the shape of every observation (a state's arrays have the
        # model's shapes), and tracing it alone takes milliseconds, where tracing the reset took up to 9 s.
        return jax.eval_shape(lambda: self._get_obs(self._blank_data())).shape[-1]

    @property
    def unwrapped(self) -> DmcEnv:
        """The task itself (wrappers forward this)."""
        return self

    # --- Helpers --------------------------------------------------------------------------------------------------

    def precision(self) -> Any:
        """The matrix-product precision context that reset and step trace under (`EnvConfig.matmul_precision`)."""
        return jax.default_matmul_precision(self.config.matmul_precision)

    def _blank_data(self) -> mjx.Data:
        """mj_resetData: the model's default state."""
        return mjx.make_data(self.mjx_model)

    def _settle(self, data: mjx.Data, n_steps: int) -> mjx.Data:
        """Runs `n_steps` physics steps with the current controls (dm_control's `physics.step(nstep=n)`)."""
        return physics.physics_step(self.mjx_model, data, n_steps)

    def _named_qpos_adr(self, joint: str) -> int:
        """qpos address of a named joint."""
        return int(self.mj_model.jnt_qposadr[self.mj_model.joint(joint).id])

    def _body_id(self, body: str) -> int:
        """Index of a named body."""
        return int(self.mj_model.body(body).id)

    def _sensor_slice(self, sensor: str) -> slice:
        """Slice of a named sensor in sensordata."""
        s = self.mj_model.sensor(sensor)
        return slice(int(s.adr[0]), int(s.adr[0] + s.dim[0]))


def random_joint_positions(mj_model: mujoco.MjModel, qpos: Array, key: Array) -> Array:
    """dm_control's `randomize_limited_and_rotational_joints`, drawing from the same distributions.

    Limited hinges and slides: uniform in their range; unlimited hinges: uniform in [-pi, pi]; limited balls: a
    random axis and an angle uniform in [0, limit); unlimited balls: uniform on the 3-sphere; free joints: the
    orientation is rand(4) normalised (dm_control's documented quirk), the position is kept.
    """
    hinge, slide, ball, free = (
        int(t)
        for t in (
            mujoco.mjtJoint.mjJNT_HINGE,
            mujoco.mjtJoint.mjJNT_SLIDE,
            mujoco.mjtJoint.mjJNT_BALL,
            mujoco.mjtJoint.mjJNT_FREE,
        )
    )
    keys = jax.random.split(key, mj_model.njnt)
    for j in range(mj_model.njnt):
        kind = int(mj_model.jnt_type[j])
        adr = int(mj_model.jnt_qposadr[j])
        low, high = (float(v) for v in mj_model.jnt_range[j])
        limited = bool(mj_model.jnt_limited[j])
        k = keys[j]
        if kind in (hinge, slide):
            if limited:
                qpos = qpos.at[adr].set(jax.random.uniform(k, (), minval=low, maxval=high))
            elif kind == hinge:
                qpos = qpos.at[adr].set(jax.random.uniform(k, (), minval=-jnp.pi, maxval=jnp.pi))
        elif kind == ball:
            if limited:
                k_axis, k_angle = jax.random.split(k)
                axis = jax.random.normal(k_axis, (3,))
                axis = axis / jnp.linalg.norm(axis)
                angle = jax.random.uniform(k_angle, ()) * high
                quat = jnp.concatenate([jnp.cos(angle / 2)[None], jnp.sin(angle / 2) * axis])
            else:
                quat = jax.random.normal(k, (4,))
                quat = quat / jnp.linalg.norm(quat)
            qpos = qpos.at[adr : adr + 4].set(quat)
        elif kind == free:
            quat = jax.random.uniform(k, (4,))
            qpos = qpos.at[adr + 3 : adr + 7].set(quat / jnp.linalg.norm(quat))
    return qpos


def redraw_while_touching(
    m: mjx.Model, data: mjx.Data, draw: Callable[[Array], mjx.Data], max_attempts: int
) -> mjx.Data:
    """dm_control's "draw again while any geoms touch" loop, bounded: `draw(attempt)` returns a candidate state, and
    the first one without contact (MuJoCo's `ncon == 0`; these models have zero margins) is kept. After
    `max_attempts` draws the last one is kept."""

    def attempt(carry: tuple[Array, mjx.Data, Array]) -> tuple[Array, mjx.Data, Array]:
        i, _, _ = carry
        candidate = draw(i)
        contacts = mjx.collision(m, mjx.kinematics(m, candidate))
        return i + 1, candidate, (contacts._impl.contact.dist < 0).any()

    # The first draw happens inside the loop too (the carry starts "touching"), so the program holds one copy of
    # the collision detection, not two: that halves what the reset spends compiling it.
    start = (jnp.int32(0), data, jnp.ones((), bool))
    _, data, _ = jax.lax.while_loop(lambda carry: carry[2] & (carry[0] < max_attempts), attempt, start)
    return data
