"""Shared helpers for benchmarks: environment description and JSON result files (plots: `mjx_iqrl.plotting`)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import jax

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_PACKAGES = ("jax", "jaxlib", "mujoco", "mujoco-mjx", "flax", "optax", "dm-control")


def device_name() -> str:
    """A short, file-name-safe name of the default JAX device (e.g. 'cpu', 'nvidia-h100')."""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return "cpu"
    kind = getattr(dev, "device_kind", dev.platform).lower()
    for tag in ("h200", "h100", "a100", "l40s", "l4", "v100", "a10"):
        if tag in kind:
            return f"nvidia-{tag}"
    return kind.replace(" ", "-")


def environment_info() -> dict[str, Any]:
    """Device, library versions, host and commit, recorded next to every benchmark number."""
    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except OSError:
        commit = ""
    dev = jax.devices()[0]
    return {
        "device": device_name(),
        "device_kind": getattr(dev, "device_kind", dev.platform),
        "num_devices": jax.device_count(),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit or None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, payload: dict[str, Any], out_dir: str | os.PathLike | None = None) -> Path:
    """Writes `payload` plus the environment description to `<out_dir>/<name>_<device>.json`."""
    out = Path(out_dir) if out_dir else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    env = environment_info()
    path = out / f"{name}_{env['device']}.json"
    # Written whole, then renamed: an interrupted benchmark never leaves half a file for --resume to read.
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({"benchmark": name, "environment": env, **payload}, indent=2) + "\n")
    os.replace(partial, path)
    return path


def finished_rows(name: str, settings: dict[str, Any], regimes: list[str], out_dir: str | None) -> list[dict]:
    """The rows of `regimes` already in the result file `name` (for --resume); SystemExit if it was written with
    other settings (budget, task, overrides: the regime list may differ)."""
    path = Path(out_dir or RESULTS_DIR) / f"{name}_{device_name()}.json"
    if not path.is_file():
        return []
    previous = json.loads(path.read_text())
    if {**previous["config"], "regimes": None} != {**settings, "regimes": None}:
        raise SystemExit(f"--resume: {path} was written with other settings")
    return [r for r in previous["results"] if r["regime"] in regimes]


def run_settings(args: Any, **extra: Any) -> dict[str, Any]:
    """The settings a regimes benchmark records (and --resume compares): task, regimes, seeds, budget, overrides."""
    return {
        "task": args.task,
        "regimes": args.regimes,
        "seeds": args.seeds,
        "env_steps": args.env_steps,
        "seconds": args.seconds,
        "eval_every": args.eval_every,
        **extra,
        "overrides": args.set,
    }
