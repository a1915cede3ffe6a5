"""What a video frame costs: `envs.render.Renderer` with its shadow map sized to the image against the model's own
(2048 squared in dm_control's models), side by side in one process.

Per task and image size: milliseconds per frame of each (the states of a random-action episode in MuJoCo, copied
into the renderer as an MJX state's are, `mj_forward` included), their ratio, and the largest and mean absolute
pixel difference between the two pictures of every frame. The variants take turns, `--rounds` times, so that a
machine's drift falls on both. Videos are rendered on the host (`mjx_iqrl.video`), with software OpenGL on a machine
without a GPU.

    python benchmarks/render_cost.py --frames 100 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import envs
from benchmarks.common import write_result
from envs import render

TASKS = ("cartpole-swingup", "walker-walk", "quadruped-run")
SIZES = ("64x48", "320x240", "640x480")


def episode_frames(model: mujoco.MjModel, frames: int, seed: int = 0) -> list[render.Frame]:
    """The picture-defining fields of `frames` control steps of MuJoCo under uniform random actions."""
    rng = np.random.default_rng(seed)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    low, high = model.actuator_ctrlrange.T if model.nu else (np.zeros(0), np.zeros(0))
    out = []
    for _ in range(frames):
        data.ctrl[:] = rng.uniform(low, high)
        for _ in range(10):
            mujoco.mj_step(model, data)
        out.append(
            render.Frame(
                data.qpos.copy(), data.qvel.copy(), data.act.copy(), data.mocap_pos.copy(), data.mocap_quat.copy()
            )
        )
    return out


def time_variant(model: mujoco.MjModel, size: tuple[int, int], shadow: int | None, frames: list) -> tuple[float, list]:
    """Seconds per frame of rendering `frames` (after one untimed frame) and the images."""
    with render.Renderer(model, *size, shadow_size=shadow) as renderer:
        renderer.render(frames[0])
        t0 = time.perf_counter()
        images = [renderer.render(f) for f in frames]
        return (time.perf_counter() - t0) / len(frames), images


def measure(task: str, size_text: str, frames: int, rounds: int) -> dict:
    """One task and size: both variants in turns, their per-frame times (median over rounds) and pixel agreement."""
    model = envs.make(task).mj_model
    size = render.parse_size(size_text)
    states = episode_frames(model, frames)
    own = int(model.vis.quality.shadowsize)
    sized = render.shadow_map_size(*size, own)
    times: dict[str, list[float]] = {"model_shadow_map": [], "image_sized_shadow_map": []}
    for _ in range(rounds):
        t_own, img_own = time_variant(model, size, own, states)
        t_sized, img_sized = time_variant(model, size, None, states)
        times["model_shadow_map"].append(t_own)
        times["image_sized_shadow_map"].append(t_sized)
    diff = np.abs(np.stack(img_own).astype(int) - np.stack(img_sized).astype(int))
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    return {
        "task": task,
        "size": size_text,
        "shadow_map_model": own,
        "shadow_map_image_sized": sized,
        "ms_per_frame": ms,
        "ms_per_frame_rounds": {k: [1e3 * t for t in v] for k, v in times.items()},
        "speedup": ms["model_shadow_map"] / ms["image_sized_shadow_map"],
        "max_pixel_diff": int(diff.max()),
        "mean_pixel_diff": float(diff.mean()),
    }


def main(argv: list[str] | None = None) -> Path:
    """Measures every task and size, prints a table, writes benchmarks/results/render_cost_<device>.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=100, help="frames rendered per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)
    gl = render.select_gl()
    rows = []
    for task in args.tasks:
        for size in args.sizes:
            r = measure(task, size, args.frames, args.rounds)
            rows.append(r)
            ms = r["ms_per_frame"]
            print(
                f"{task:18s} {size:8s} shadow map {r['shadow_map_model']:5d}: {ms['model_shadow_map']:6.1f} ms  "
                f"{r['shadow_map_image_sized']:5d}: {ms['image_sized_shadow_map']:6.1f} ms  "
                f"x{r['speedup']:.2f}  pixels max {r['max_pixel_diff']:3d} mean {r['mean_pixel_diff']:.4f}",
                flush=True,
            )
    config = {"tasks": args.tasks, "sizes": args.sizes, "frames": args.frames, "rounds": args.rounds, "gl": gl}
    path = write_result("render_cost", {"config": config, "results": rows}, args.out_dir)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
