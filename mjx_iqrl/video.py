"""Episode videos of a deterministic policy: MJX episodes (the trainer's physics) or real dm_control, rendered on
the host with MuJoCo's renderer (`envs.render`) and written as H.264 MP4.

MP4s are encoded by FFmpeg through imageio-ffmpeg, which installs from the package index with its own FFmpeg
binary (nothing to install system-wide) and is what imageio itself uses for video. Frames are taken every
`frame_stride` control steps, so that a video plays in real time at 60 frames per second or fewer.

An MJX episode runs as one compiled program (reset, then a scan over control steps with the policy acting every
`action_repeat` steps, as in training and evaluation) that returns what defines each picture; rendering follows on
the host. A dm_control episode steps dm_control itself and renders its own physics.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from envs import render

MAX_FPS = 60
"""Frames per second at most; a faster control rate renders every k-th control step."""

Act = Callable[[Any, Any], Any]
"""The deterministic policy: act(params, observations [N, obs_dim]) -> actions [N, action_dim]."""


class Episode(NamedTuple):
    """One recorded MJX episode."""

    frames: render.Frame
    """Picture-defining fields at each rendered control step (leading axis: frames)."""
    episode_return: float


def frame_stride(control_dt: float) -> int:
    """Control steps per frame: 1, or enough to stay at or under MAX_FPS."""
    return max(1, math.ceil(1.0 / (control_dt * MAX_FPS) - 1e-9))


def fps(control_dt: float) -> float:
    """Frames per second of a video that plays in real time."""
    return 1.0 / (control_dt * frame_stride(control_dt))


def control_steps(env: Any, frames: int | None) -> int:
    """Control steps of an episode that gives `frames` frames (the first is the reset), or the whole episode."""
    whole = env.episode_length
    if frames is None:
        return whole
    return min(whole, (frames - 1) * frame_stride(env.control_dt))


def make_mjx_episode(env: Any, act: Act, action_repeat: int, steps: int) -> Callable[[Any, jax.Array], Episode]:
    """A jitted function (params, key) -> Episode: `steps` control steps of the raw task from reset(key), the policy
    acting every `action_repeat` steps; frames every `frame_stride` steps (the reset's state first)."""
    stride = frame_stride(env.control_dt)

    def episode(params: Any, key: jax.Array) -> Episode:
        state = env.reset(key)

        def body(carry, t):
            state, action, total = carry
            action = jnp.where(t % action_repeat == 0, act(params, state.obs[None])[0], action)
            state = env.step(state, action)
            return (state, action, total + state.reward), render.frame_of(state.pipeline_state)

        zero = jnp.zeros(env.action_size, jnp.float32)
        (_, _, total), frames = jax.lax.scan(body, (state, zero, jnp.zeros(())), jnp.arange(steps))
        first = render.frame_of(state.pipeline_state)
        frames = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b[stride - 1 :: stride]]), first, frames)
        return Episode(frames=render.Frame(*frames), episode_return=total)

    return jax.jit(episode)


def mjx_images(
    env: Any,
    act: Act,
    params: Any,
    action_repeat: int,
    episodes: int,
    seed: int,
    renderer: render.Renderer,
    frames: int | None = None,
    returns: list[float] | None = None,
) -> Iterator[np.ndarray]:
    """Images of `episodes` MJX episodes one after another (keys from `seed`); their returns go to `returns`."""
    run = make_mjx_episode(env, act, action_repeat, control_steps(env, frames))
    for i in range(episodes):
        episode = jax.device_get(run(params, jax.random.PRNGKey(seed + i)))
        if returns is not None:
            returns.append(float(episode.episode_return))
        yield from renderer.render_trajectory(episode.frames)


def dm_control_images(
    task: str,
    act: Act,
    params: Any,
    action_repeat: int,
    episodes: int,
    seed: int,
    size: tuple[int, int],
    camera: int | str = 0,
    frames: int | None = None,
    returns: list[float] | None = None,
) -> Iterator[np.ndarray]:
    """Images of `episodes` episodes of dm_control itself (seeds seed, seed + 1, ...), rendered from its physics;
    their returns (of the steps run) go to `returns`."""
    from envs import reference

    for i in range(episodes):
        dm_env = reference.load(task, seed + i)
        timestep = dm_env.reset()
        physics = dm_env.physics
        stride = frame_stride(dm_env.control_timestep())
        limit = math.inf if frames is None else (frames - 1) * stride
        total, t, action = 0.0, 0, None
        with render.Renderer(physics.model.ptr, *size, camera=camera) as renderer:
            yield renderer.render_data(physics.data.ptr)
            while not timestep.last() and t < limit:
                if t % action_repeat == 0:
                    obs = reference.flat_obs(timestep).astype(np.float32)[None]
                    action = np.asarray(act(params, obs))[0]
                timestep = dm_env.step(action)
                total += timestep.reward
                t += 1
                if t % stride == 0:
                    yield renderer.render_data(physics.data.ptr)
        if returns is not None:
            returns.append(total)


@contextlib.contextmanager
def _forking_ffmpeg() -> Iterator[None]:
    """Silences JAX's warning at a fork of its multithreaded process: starting FFmpeg forks and execs at once."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        yield


def write_mp4(path: str | Path, images: Iterable[np.ndarray], frame_rate: float) -> int:
    """Encodes RGB images [H, W, 3] uint8 as H.264 MP4 (yuv420p, playable everywhere); returns the frame count."""
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer, count = None, 0
    try:
        for image in images:
            if writer is None:
                height, width = image.shape[:2]
                options = {"codec": "libx264", "pix_fmt_out": "yuv420p", "macro_block_size": 2}
                writer = imageio_ffmpeg.write_frames(
                    str(path), (width, height), fps=frame_rate, ffmpeg_log_level="error", **options
                )
                with _forking_ffmpeg():
                    writer.send(None)  # starts FFmpeg
            writer.send(np.ascontiguousarray(image))
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def read_mp4(path: str | Path) -> tuple[np.ndarray, float]:
    """Decodes an MP4 to RGB frames [T, H, W, 3] uint8 and its frame rate."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    with _forking_ffmpeg():
        meta = next(reader)  # starts FFmpeg
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    return np.stack(frames), float(meta["fps"])


def video_due(cfg: Any, env_steps: int) -> bool:
    """Whether the evaluation at `env_steps` gets a video (every `logger.video_every_evals`-th, from env step 0)."""
    return (env_steps // cfg.eval.every_env_steps) % cfg.logger.video_every_evals == 0


class TrainingVideos:
    """Videos during training: at every `logger.video_every_evals`-th evaluation (counted from env step 0, so a
    resumed run keeps the rhythm), one MJX episode of seed 0's deterministic policy, with the training physics, to
    `<run_dir>/videos/<env_steps>.mp4`. Runs on the host between chunks; its program is compiled at the first video."""

    def __init__(self, cfg: Any, run_dir: Path):
        import envs
        from mjx_iqrl.agent import make_policy

        self.folder = Path(run_dir) / "videos"
        self.env = envs.make(cfg.task.name, **cfg.env.make_kwargs())
        low, high = self.env.action_bounds
        policy = make_policy(cfg.agent, self.env.observation_size, self.env.action_size, low, high)
        self.size = render.parse_size(cfg.logger.video_size)
        self.camera = cfg.logger.video_camera
        self.run = make_mjx_episode(self.env, policy.act_deterministic, cfg.env.action_repeat, self.env.episode_length)
        self.seed = cfg.seed

    def record(self, policy_params: Any, env_steps: int) -> dict[str, Any]:
        """Renders one episode of the first seed's policy (`policy_params` has a leading seed axis); returns the
        record entries: the video's path relative to the run directory, its episode return and its seconds."""
        import time

        t0 = time.perf_counter()
        params = jax.tree.map(lambda x: x[0], policy_params)
        episode = jax.device_get(self.run(params, jax.random.PRNGKey(self.seed + env_steps)))
        path = self.folder / f"{env_steps}.mp4"
        with render.Renderer(self.env.mj_model, *self.size, camera=self.camera) as renderer:
            write_mp4(path, renderer.render_trajectory(episode.frames), fps(self.env.control_dt))
        return {
            "eval/video": str(path.relative_to(self.folder.parent)),
            "eval/video_return": float(episode.episode_return),
            "time/video_s": time.perf_counter() - t0,
        }
