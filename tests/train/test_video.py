"""Episode videos: MJX and dm_control episodes rendered and encoded, the MJX picture of a state equal to dm_control's
own, a clean exit of the GL context, videos during training, and `evaluate --video`."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import reference, render
from mjx_iqrl import evaluate, video
from mjx_iqrl.runner import run
from tests.train.conftest import make_cfg

# Reacher's target is placed per episode (a mocap body here, the model in dm_control): its frames check the copy.
VIDEO_TASK = "reacher-easy"
SIZE = (160, 120)


def _gl_or_skip() -> str:
    try:
        return render.select_gl()
    except render.RenderError as err:
        pytest.skip(f"no OpenGL to render with here: {err}")


def _act(params, obs):
    """A fixed policy that moves the arm (no network needed)."""
    del params
    return jnp.sin(3.0 * obs[:, :2])


@pytest.fixture(scope="module")
def reacher():
    _gl_or_skip()
    return envs.make(VIDEO_TASK)


def test_mjx_and_dm_control_videos_decode_with_their_frames(reacher, tmp_path):
    """20 frames per backend: the MP4 decodes to 20 frames of the asked size at the real-time rate, the picture
    changes over the episode, and the return of the steps run is reported."""
    assert video.frame_stride(reacher.control_dt) == 1 and video.fps(reacher.control_dt) == 50.0  # 20 ms control
    for backend in ("mjx", "dm_control"):
        returns: list[float] = []
        path = tmp_path / f"{backend}.mp4"
        if backend == "mjx":
            with render.Renderer(reacher.mj_model, *SIZE) as renderer:
                images = video.mjx_images(reacher, _act, None, 2, 1, 0, renderer, frames=20, returns=returns)
                count = video.write_mp4(path, images, 50.0)
        else:
            images = video.dm_control_images(VIDEO_TASK, _act, None, 2, 1, 0, SIZE, frames=20, returns=returns)
            count = video.write_mp4(path, images, 50.0)
        frames, rate = video.read_mp4(path)
        assert count == 20 and frames.shape == (20, SIZE[1], SIZE[0], 3) and rate == 50.0, backend
        assert len(returns) == 1 and 0.0 <= returns[0] <= 19.0, backend  # at most 1 per control step
        change = [float(np.abs(frames[t].astype(int) - frames[0].astype(int)).mean()) for t in (1, 19)]
        assert 0 < change[0] < change[1], (backend, change)


def test_mjx_picture_of_a_state_equals_dm_controls(reacher):
    """dm_control's initial state (its target kept in its model) copied into the MJX task: the rendered images
    agree to within a few grey levels."""
    dm_env = reference.load(VIDEO_TASK, 7)
    dm_env.reset()
    reset_to = jax.jit(reacher.reset_to)
    state = reset_to(**reference.physics_state(dm_env, reacher))
    with render.Renderer(reacher.mj_model, *SIZE) as renderer:
        ours = renderer.render(render.frame_of(jax.device_get(state.pipeline_state))).astype(int)
    with render.Renderer(dm_env.physics.model.ptr, *SIZE) as renderer:
        theirs = renderer.render_data(dm_env.physics.data.ptr).astype(int)
    assert theirs.std() > 10  # a real picture
    assert np.abs(ours - theirs).max() <= 3
    # A moved target is visible: the same state with the target elsewhere renders differently.
    elsewhere = reference.physics_state(dm_env, reacher) | {"mocap_pos": np.array([[0.1, -0.1, 0.01]])}
    moved = jax.device_get(reset_to(**elsewhere).pipeline_state)
    with render.Renderer(reacher.mj_model, *SIZE) as renderer:
        assert np.abs(renderer.render(render.frame_of(moved)).astype(int) - theirs).max() > 50


def test_renderer_closes_cleanly_at_exit():
    """A process that renders and closes its renderer exits 0 with nothing on stderr (no EGL traceback)."""
    _gl_or_skip()
    code = (
        "import envs; from envs import render\n"
        "env = envs.make('pendulum-swingup')\n"
        "with render.Renderer(env.mj_model, 64, 48) as r:\n"
        "    import mujoco; d = mujoco.MjData(env.mj_model); mujoco.mj_forward(env.mj_model, d)\n"
        "    assert r.render_data(d).shape == (48, 64, 3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr


def test_shadow_map_is_sized_to_the_image_and_the_model_keeps_its_own(reacher):
    """Twice the image's larger side, rounded up to a power of two, between 256 and the model's own size (0, no
    shadows, stays 0); the renderer's context gets it, and the model's value is left as it was."""
    sizes = [(64, 48), (200, 100), (320, 240), (640, 480), (1920, 1080)]
    assert [render.shadow_map_size(w, h, 2048) for w, h in sizes] == [256, 512, 1024, 2048, 2048]
    assert render.shadow_map_size(320, 240, 0) == 0 and render.shadow_map_size(320, 240, 512) == 512
    model = reacher.mj_model
    assert model.vis.quality.shadowsize == 2048
    with render.Renderer(model, *SIZE) as renderer:
        assert renderer._renderer._mjr_context.shadowSize == 512
    with render.Renderer(model, *SIZE, shadow_size=2048) as renderer:
        assert renderer._renderer._mjr_context.shadowSize == 2048
    assert model.vis.quality.shadowsize == 2048


@pytest.mark.parametrize("text", ["320x241", "320", "ax2"])
def test_bad_video_sizes_are_one_line(text):
    with pytest.raises(envs.ConfigError, match="size"):
        render.parse_size(text)


def test_training_writes_videos_outside_the_training_clock(compiled, tmp_path):
    """logger.video=true with a video every 2nd evaluation: videos at env steps 0 and 800 (not at 400), their
    paths, returns and seconds in the records, and the final policy's dm_control return; `evaluate --video` then
    renders the run's checkpoint in dm_control."""
    _gl_or_skip()
    cfg = make_cfg(
        "train.total_env_steps=800",
        "eval.every_env_steps=400",
        "logger.video=true",
        "logger.video_every_evals=2",
        "logger.video_size=64x48",
        "eval.dm_control_episodes=1",
    )
    result = run(cfg, run_dir=tmp_path / "run", compiled=compiled)
    first = result.records[0]
    assert first["eval/video"] == "videos/0.mp4" and first["time/video_s"] > 0
    assert [r.get("eval/video") for r in result.records] == ["videos/0.mp4", None, "videos/800.mp4"]
    assert 0 <= result.records[-1]["dm_control/return_mean"] <= 1000
    assert "dm_control/return_mean" not in result.records[1]
    frames, rate = video.read_mp4(tmp_path / "run" / "videos" / "0.mp4")
    env = envs.make("cartpole-swingup")
    assert frames.shape == (env.episode_length // 2 + 1, 48, 64, 3) and rate == 50.0
    # The chunks' clock is not the videos': the first chunk's training seconds exclude the video before it.
    assert result.records[1]["time/train_s"] < result.records[1]["time/elapsed_s"] - first["time/video_s"] + 1e-6

    out = tmp_path / "eval.mp4"
    args = [str(tmp_path / "run"), "--video", str(out), "--backend", "dm_control", "--frames", "6", "--episodes", "2"]
    assert evaluate.main([*args, "--size", "64x48", "--json", str(tmp_path / "e.json")]) == 0
    assert video.read_mp4(out)[0].shape == (12, 48, 64, 3)
    assert len(json.loads((tmp_path / "e.json").read_text())["returns"]["dm_control"]) == 2
    assert evaluate.main([*args, "--camera", "9"]) == 2  # cartpole has two cameras: one line, no traceback
