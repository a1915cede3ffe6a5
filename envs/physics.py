"""Model loading from the installed dm_control package, physics profiles, and dm_control-exact stepping on MJX.

Models: the MJCF files of dm_control's suite are the source of truth. They are read from the installed
`dm_control` distribution (located with `importlib.util.find_spec`, which does not import `dm_control.suite`), and
tuned in code with `mujoco.MjSpec`.

Profiles: `dmc` keeps dm_control's solver settings (what the fidelity tests run); `fast` trades solver accuracy for
MJX throughput with the per-task `Tuning` that each domain file documents. Both keep the control timestep,
observations and rewards.

Stepping: dm_control's `Physics.step` (legacy mode, which the suite uses) finishes every control step with
`mj_step1`, so positions, velocities and position/velocity sensors are in sync with the new state, while the
acceleration-stage quantities (touch, force and accelerometer sensors) stay those of the last sub-step's forward
pass. `physics_step` reproduces that order on MJX with no extra work: the first sub-step starts from the
acceleration stage (the position/velocity stages are already current), then full steps, then the position and
velocity stages of the new state.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.errors import ModelFilesError

PROFILES = ("dmc", "fast")
IMPLS = ("jax", "warp")


SETTOTALMASS_NOTICE = "'settotalmass' is deprecated"
"""MuJoCo's notice on compiling a model with `<compiler settotalmass>`, as dm_control's cheetah, walker and others
do. MuJoCo still applies the attribute (the fidelity tests check the masses' effect against dm_control), and a user
can change nothing about it, so it is not shown."""


def compile_model(spec: mujoco.MjSpec) -> mujoco.MjModel:
    """`spec.compile()` without MuJoCo's `SETTOTALMASS_NOTICE` (every other warning passes)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", f".*{SETTOTALMASS_NOTICE}", UserWarning)
        return spec.compile()


def suite_dir() -> Path:
    """Returns the folder of dm_control's suite MJCF files, without importing dm_control's task modules."""
    spec = importlib.util.find_spec("dm_control")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesError("dm_control is not installed: its suite model files are needed (pip install dm-control)")
    path = Path(next(iter(spec.submodule_search_locations))) / "suite"
    if not path.is_dir():
        raise ModelFilesError(f"dm_control's suite model folder is missing: {path}")
    return path


def load_spec(filename: str) -> mujoco.MjSpec:
    """Parses one of dm_control's suite MJCF files (includes and assets resolved from the suite folder)."""
    path = suite_dir() / filename
    if not path.is_file():
        raise ModelFilesError(f"dm_control model file is missing: {path}")
    return mujoco.MjSpec.from_file(str(path))


@dataclasses.dataclass(frozen=True)
class Tuning:
    """Solver and collision settings applied on top of a dm_control model (None keeps the model's value)."""

    # Maximum constraint-solver iterations.
    iterations: int | None = None
    # Maximum line-search iterations of the Newton/CG solver.
    ls_iterations: int | None = None
    # Physics timestep in seconds; the control timestep is unchanged (more or fewer sub-steps).
    timestep: float | None = None
    # False disables MuJoCo's implicit integration of joint damping in the Euler integrator (a costly factorisation).
    eulerdamp: bool | None = None
    # MJX contact culling: at most this many contact points per step (None: no culling).
    max_contact_points: int | None = None
    # MJX contact culling: at most this many geom pairs per collision function (None: no culling).
    max_geom_pairs: int | None = None


def apply_tuning(spec: mujoco.MjSpec, tuning: Tuning) -> None:
    """Writes `tuning` into `spec` in place."""
    opt = spec.option
    if tuning.iterations is not None:
        opt.iterations = tuning.iterations
    if tuning.ls_iterations is not None:
        opt.ls_iterations = tuning.ls_iterations
    if tuning.timestep is not None:
        opt.timestep = tuning.timestep
    if tuning.eulerdamp is False:
        opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    for name in ("max_contact_points", "max_geom_pairs"):
        value = getattr(tuning, name)
        if value is not None:
            spec.add_numeric(name=name, data=[value])


def disable_energy(spec: mujoco.MjSpec) -> None:
    """Turns off the energy flag, which MJX rejects; no suite task reads potential or kinetic energy."""
    spec.option.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_ENERGY)


def put_model(mj_model: mujoco.MjModel, impl: str) -> mjx.Model:
    """Copies a compiled model to the device for the MJX backend `impl` ('jax' or 'warp')."""
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; known: {', '.join(IMPLS)}")
    if impl == "warp" and importlib.util.find_spec("warp") is None:
        raise ValueError("impl='warp' needs MuJoCo Warp (pip install warp-lang mujoco-warp); use impl='jax'")
    # This process's own device: in a multi-host run jax.devices()[0] (MJX's default) may be another host's, and the
    # model's arrays become constants of the compiled programs, which must be readable here.
    return mjx.put_model(mj_model, device=jax.local_devices()[0], impl=impl)


def _acceleration_stage(m: mjx.Model, d: mjx.Data) -> mjx.Data:
    """mj_step2's dynamics part: actuation, smooth acceleration, constraint solve, acceleration sensors."""
    d = mjx.fwd_actuation(m, d)
    d = mjx.fwd_acceleration(m, d)
    # The number of constraint rows is static; MJX's own forward skips the solver when there are none.
    d = d.replace(qacc=d.qacc_smooth) if d._impl.efc_J.size == 0 else mjx.solve(m, d)
    return mjx.sensor_acc(m, d)


def _integrate(m: mjx.Model, d: mjx.Data) -> mjx.Data:
    """The model's integrator, applied to a forward-complete Data."""
    integrator = m.opt.integrator
    if integrator == mjx.IntegratorType.EULER:
        return mjx.euler(m, d)
    if integrator == mjx.IntegratorType.RK4:
        return mjx.rungekutta4(m, d)
    if integrator == mjx.IntegratorType.IMPLICITFAST:
        return mjx.implicit(m, d)
    raise NotImplementedError(f"integrator {integrator} is not supported by MJX")


def position_velocity_stage(m: mjx.Model, d: mjx.Data) -> mjx.Data:
    """mj_step1: kinematics, collision, position and velocity sensors of the current state."""
    d = mjx.fwd_position(m, d)
    d = mjx.sensor_pos(m, d)
    d = mjx.fwd_velocity(m, d)
    return mjx.sensor_vel(m, d)


def forward(m: mjx.Model, d: mjx.Data, actuation: bool = True) -> mjx.Data:
    """mj_forward; with `actuation=False` as dm_control's reset does (actuators disabled)."""
    if not actuation:
        flags = m.opt.disableflags | mjx.DisableBit.ACTUATION
        m = m.tree_replace({"opt.disableflags": flags})
    return mjx.forward(m, d)


def physics_step(m: mjx.Model, d: mjx.Data, n_substeps: int) -> mjx.Data:
    """Advances `n_substeps` physics steps exactly as dm_control's legacy `Physics.step(n_substeps)`.

    Expects `d` with current position/velocity stages (after a reset's forward or a previous `physics_step`).
    """
    if m.impl == mjx.Impl.WARP:
        # MJX-Warp exposes whole steps only: step, then recompute the stages of the new state but keep the
        # acceleration-stage sensors of the last step, as dm_control does.
        stepped = jax.lax.fori_loop(0, n_substeps, lambda _, x: mjx.step(m, x), d)
        synced = mjx.forward(m, stepped)
        return synced.replace(sensordata=jnp.where(_acc_sensor_entries(m), stepped.sensordata, synced.sensordata))
    if m.opt.integrator == mjx.IntegratorType.RK4:
        # dm_control runs full mj_step's for RK4 (a fresh forward first), then mj_step1.
        d = jax.lax.fori_loop(0, n_substeps, lambda _, x: mjx.step(m, x), d)
        return position_velocity_stage(m, d)

    # mj_step2, (mj_step1, mj_step2) x (n - 1), mj_step1 is (mj_step2, mj_step1) x n: one loop body holds the only
    # copy of the physics, which halves the compiled program against unrolling the first and last stages.
    def substep(_, x: mjx.Data) -> mjx.Data:
        return position_velocity_stage(m, _integrate(m, _acceleration_stage(m, x)))

    return jax.lax.fori_loop(0, n_substeps, substep, d)


def _acc_sensor_entries(m: mjx.Model) -> np.ndarray:
    """A mask over sensordata entries that belong to acceleration-stage sensors."""
    stage = np.asarray(m.sensor_needstage)
    return np.repeat(stage == int(mujoco.mjtStage.mjSTAGE_ACC), np.asarray(m.sensor_dim))
