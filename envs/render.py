"""Rendering of env states with MuJoCo's own renderer, headless: MJX states copied into a host `MjData`, and
dm_control's physics as they are.

An MJX state is rendered by copying what defines the picture into a host `MjData` of the task's model (positions,
velocities, actuator activations, and the mocap poses that hold the per-episode targets of reacher, finger, fish,
swimmer and manipulator), followed by `mj_forward`. OpenGL is headless by default: `MUJOCO_GL=egl`, `osmesa` or
`glfw` picks one; otherwise EGL is tried, then OSMesa. A `Renderer` owns a GL context and must be closed (it is a
context manager): left to the garbage collector at exit, EGL fails noisily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import mujoco
import numpy as np

from envs.errors import ConfigError

GL_BACKENDS = ("egl", "osmesa", "glfw")
"""Values of MUJOCO_GL that request a backend; any other value (or none) tries the headless ones in order."""

_chosen: list[str] = []


class RenderError(RuntimeError):
    """No OpenGL backend can render here; the message is one line naming MUJOCO_GL."""


class Frame(NamedTuple):
    """What defines the picture of one MJX state (host arrays)."""

    qpos: np.ndarray
    qvel: np.ndarray
    act: np.ndarray
    mocap_pos: np.ndarray
    mocap_quat: np.ndarray


def frame_of(data: Any) -> Frame:
    """The picture-defining fields of an `mjx.Data` (also batched over leading axes: a trajectory)."""
    return Frame(data.qpos, data.qvel, data.act, data.mocap_pos, data.mocap_quat)


def _context_class(name: str) -> Any:
    if name == "egl":
        from mujoco.egl import GLContext
    elif name == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.glfw import GLContext
    return GLContext


def select_gl() -> str:
    """Chooses MuJoCo's OpenGL backend (MUJOCO_GL if it names one, else EGL, then OSMesa) and returns its name;
    RenderError if none can create a context."""
    if _chosen:
        return _chosen[0]
    from mujoco.rendering.classic import gl_context

    requested = os.environ.get("MUJOCO_GL", "").strip().lower()
    candidates = [requested] if requested in GL_BACKENDS else ["egl", "osmesa"]
    reasons = []
    for name in candidates:
        try:
            context_class = _context_class(name)
            context = context_class(16, 16)
            context.make_current()
            context.free()
        except Exception as err:  # a missing library is an ImportError, OSError or a GL error, by backend
            reasons.append(f"{name}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
            continue
        # mujoco.Renderer creates its context from this module attribute, which mujoco set from MUJOCO_GL when it
        # was first imported (before any choice here could be made).
        gl_context.GLContext = context_class
        _chosen.append(name)
        return name
    raise RenderError(
        f"no OpenGL backend can render here ({'; '.join(reasons)}); install EGL or OSMesa, or set MUJOCO_GL to "
        "egl, osmesa or glfw"
    )


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240); ConfigError unless both are even and positive (H.264 needs even sizes)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ConfigError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 320x240")
    w, h = int(width), int(height)
    if w < 2 or h < 2 or w % 2 or h % 2:
        raise ConfigError(f"size {text!r}: width and height must be even and at least 2")
    return w, h


def shadow_map_size(width: int, height: int, model_size: int) -> int:
    """The side of the shadow map for a `width` x `height` image: the power of two at or above twice its larger
    side, at least 256, and at most the model's `model_size` (a model's own 0, no shadows, is kept)."""
    if model_size <= 0:
        return model_size
    side = 256
    while side < 2 * max(width, height):
        side *= 2
    return min(side, model_size)


class Renderer:
    """Renders states of one model at one size and camera; use as a context manager (it holds a GL context)."""

    def __init__(
        self,
        model: mujoco.MjModel,
        width: int = 320,
        height: int = 240,
        camera: int | str = 0,
        shadow_size: int | None = None,
    ):
        """`shadow_size`: the side of the shadow map (None: `shadow_map_size` of the image and the model's own)."""
        select_gl()
        if isinstance(camera, int) and not -1 <= camera < model.ncam:
            raise ConfigError(f"camera {camera} does not exist: the model has cameras -1 (free) to {model.ncam - 1}")
        if isinstance(camera, str) and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            raise ConfigError(f"camera {camera!r} does not exist in the model")
        # The offscreen buffer must hold the image. Only this visual setting of the model changes (in place: a
        # dm_control model is edited per episode, and the scene must follow its live values).
        model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
        model.vis.global_.offheight = max(height, model.vis.global_.offheight)
        self.model = model
        self.camera = camera
        self.data = mujoco.MjData(self.model)
        # The shadow map is drawn every frame at the model's size (2048 squared in dm_control's models), whatever
        # the image's: most of a small frame's time with software OpenGL. The context is made with a map sized to
        # the image, and the model keeps its own value.
        model_shadow = int(model.vis.quality.shadowsize)
        model.vis.quality.shadowsize = (
            shadow_map_size(width, height, model_shadow) if shadow_size is None else shadow_size
        )
        try:
            self._renderer = mujoco.Renderer(self.model, height=height, width=width)
        finally:
            model.vis.quality.shadowsize = model_shadow

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Frees the GL context (idempotent)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def render_data(self, data: mujoco.MjData) -> np.ndarray:
        """One RGB image [H, W, 3] uint8 of host MuJoCo data of this renderer's model (e.g. dm_control's
        `physics.data.ptr` for a renderer of `physics.model.ptr`)."""
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def render(self, frame: Frame) -> np.ndarray:
        """One RGB image [H, W, 3] uint8 of one MJX state's picture-defining fields (`frame_of`)."""
        d = self.data
        d.qpos[:] = np.asarray(frame.qpos)
        d.qvel[:] = np.asarray(frame.qvel)
        if self.model.na:
            d.act[:] = np.asarray(frame.act)
        if self.model.nmocap:
            d.mocap_pos[:] = np.asarray(frame.mocap_pos)
            d.mocap_quat[:] = np.asarray(frame.mocap_quat)
        mujoco.mj_forward(self.model, d)
        return self.render_data(d)

    def render_trajectory(self, frames: Frame) -> Iterator[np.ndarray]:
        """Images of a trajectory of frames (each field with a leading time axis), one by one."""
        frames = Frame(*(np.asarray(x) for x in frames))
        for t in range(frames.qpos.shape[0]):
            yield self.render(Frame(*(x[t] for x in frames)))
