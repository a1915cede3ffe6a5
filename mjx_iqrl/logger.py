"""Metric sinks: a JSONL file in the run directory, a console progress bar, and Weights & Biases when asked.

Records are flat dicts with namespaced keys (`train/...`, `eval/...`, `perf/...`, `time/...`) and an `env_steps`
counter. Only this module imports wandb, and only when `logger.wandb=true`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Protocol

from mjx_iqrl.config import Config, LoggerOptions


class Sink(Protocol):
    """Anything that takes metric records."""

    def write(self, record: dict[str, Any]) -> None:
        """Consumes one record."""

    def close(self) -> None:
        """Flushes and releases resources."""


def _plain(value: Any) -> Any:
    """JSON-safe value: floats stay floats (NaN as null), lists recurse."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class JsonlSink:
    """Appends one JSON object per record to `metrics.jsonl`."""

    def __init__(self, path: Path, resume_env_steps: int | None = None):
        self.path = path
        if resume_env_steps is not None and path.exists():
            # Records written after the checkpoint being resumed from are replaced by the resumed run's.
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["env_steps"] <= resume_env_steps]
            path.write_text("".join(line + "\n" for line in kept))
        self._file = path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        """Writes and flushes one line."""
        self._file.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


class ProgressBar:
    """A console bar over env steps with steps per second, the last evaluation return and the time left.

    The time left is extrapolated from the learning phase only (after `learning_starts` env steps): the warm-up
    collects data without gradient updates and runs many times faster, so it says nothing about what follows.
    """

    def __init__(self, total_env_steps: int, initial: int = 0, learning_starts: int = 0):
        from tqdm import tqdm

        self._bar = tqdm(
            total=total_env_steps,
            initial=initial,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            file=sys.stderr,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )
        self._total = total_env_steps
        self._learning_starts = learning_starts
        self._learning_origin: tuple[int, float] | None = None
        self._eval: float | None = None

    def _time_left(self, env_steps: int, elapsed_s: float | None) -> str:
        """'warm-up' before learning starts; then the learning phase's seconds per env step times those left."""
        if env_steps < self._learning_starts or elapsed_s is None:
            return "warm-up"
        if self._learning_origin is None:
            self._learning_origin = (env_steps, elapsed_s)
            return "?"
        steps, seconds = env_steps - self._learning_origin[0], elapsed_s - self._learning_origin[1]
        if steps <= 0:
            return "?"
        left = max(0.0, (self._total - env_steps) * seconds / steps)
        return _clock(left)

    def write(self, record: dict[str, Any]) -> None:
        """Advances to the record's env steps and refreshes the postfix."""
        if "eval/return_mean" in record:
            self._eval = record.get("eval/return_mean/iqm", record["eval/return_mean"])
        postfix = {}
        if "perf/sps" in record:
            postfix["sps"] = f"{record['perf/sps']:.0f}"
        if self._eval is not None:
            postfix["eval"] = f"{self._eval:.1f}"  # the IQM over seeds when there are several
        if "train/episode_return" in record and record.get("train/episodes"):
            postfix["train"] = f"{record['train/episode_return']:.1f}"
        if "chunk" in record:
            postfix["left"] = self._time_left(record["env_steps"], record.get("time/elapsed_s"))
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(max(0, record["env_steps"] - self._bar.n))

    def close(self) -> None:
        """Closes the bar."""
        self._bar.close()


def _clock(seconds: float) -> str:
    """H:MM:SS (or M:SS under an hour)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class WandbSink:
    """Logs records to Weights & Biases (`mode=offline` needs no network)."""

    def __init__(self, options: LoggerOptions, run_dir: Path, config: dict[str, Any], run_name: str):
        try:
            import wandb
        except ImportError as err:
            raise ImportError("logger.wandb=true needs wandb: pip install -e '.[wandb]'") from err
        self._run_dir = run_dir
        self._run = wandb.init(
            project=options.wandb_project,
            entity=options.wandb_entity,
            mode=options.wandb_mode,
            dir=str(run_dir),
            name=run_name,
            config=config,
            id=run_name.replace("/", "-"),
            resume="allow",
        )

    def write(self, record: dict[str, Any]) -> None:
        """Logs the scalar entries (and a video, `.../video`: its path under the run directory) at the record's
        env steps."""
        import wandb

        scalars: dict[str, Any] = {}
        for key, value in record.items():
            if key.endswith("/video") and isinstance(value, str):
                scalars[key] = wandb.Video(str(self._run_dir / value), format="mp4")
            elif isinstance(value, list):  # per-seed values
                scalars.update({f"{key}/{i}": v for i, v in enumerate(value)})
            elif isinstance(value, (int, float)) and key != "env_steps":
                scalars[key] = value
        self._run.log(scalars, step=int(record["env_steps"]))

    def close(self) -> None:
        """Finishes the run."""
        self._run.finish()


class Logger:
    """Fans records out to its sinks."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = sinks

    def log(self, record: dict[str, Any]) -> None:
        """Sends one record to every sink."""
        for sink in self.sinks:
            sink.write(record)

    def close(self) -> None:
        """Closes every sink."""
        for sink in self.sinks:
            sink.close()


def make_logger(
    cfg: Config,
    run_dir: Path,
    config_dict: dict[str, Any],
    resume_env_steps: int | None,
    learning_starts: int = 0,
) -> Logger:
    """The sinks `cfg.logger` asks for: always metrics.jsonl; the progress bar and wandb when enabled.

    `learning_starts` (env steps of the warm-up) lets the bar extrapolate the time left from the learning phase.
    In a multi-host run only process 0 writes.
    """
    import jax

    if jax.process_index() != 0:
        return Logger([])
    sinks: list[Sink] = [JsonlSink(run_dir / "metrics.jsonl", resume_env_steps)]
    if cfg.logger.progress:
        sinks.append(ProgressBar(cfg.train.total_env_steps, resume_env_steps or 0, learning_starts))
    if cfg.logger.wandb:
        sinks.append(WandbSink(cfg.logger, run_dir, config_dict, run_name=f"{cfg.task.name}/{run_dir.name}"))
    return Logger(sinks)
