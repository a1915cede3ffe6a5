"""What the hydra command lines (`mjx_iqrl.train`, `mjx_iqrl.baseline`) share: `--help` from the config's field
docs, flag and override checks with one-line errors, and the hand-over to hydra."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mjx_iqrl import schema
from mjx_iqrl.errors import ConfigError

# Hydra's own flags that take a value, and the sweep flag.
HYDRA_FLAGS = ("--multirun", "-m", "--cfg", "-c", "--resolve", "--info", "-i")


def options_help(config_class: type, defaults_file: str) -> list[str]:
    """Every option of a config class with its default, type and meaning."""
    lines = [f"Options (key=value; defaults in {defaults_file}):"]
    for key, hint, default, doc in schema.walk_fields(config_class):
        shown = list(default) if isinstance(default, tuple) else default
        lines.append(f"  {key}={shown}  ({schema.describe(hint)})")
        if doc:
            lines.append(f"      {doc}")
    return lines


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """(hydra flags, key=value overrides, whether it is a sweep); an unknown flag is a ConfigError."""
    flags = [a for a in argv if a.startswith("-")]
    overrides = [a for a in argv if not a.startswith("-")]
    unknown = [f for f in flags if f.split("=")[0] not in HYDRA_FLAGS and not f.startswith("--config")]
    if unknown:
        raise ConfigError(f"unknown flag {unknown[0]!r}; options are key=value overrides (see --help)")
    return flags, overrides, any(f in ("--multirun", "-m") for f in flags)


def check_each(overrides: Sequence[str], sweep: bool, check: Callable[[list[str]], None]) -> None:
    """Validates every override with `check`; in a sweep, each comma-separated value of a key separately."""
    for text in overrides:
        key, sep, value = text.partition("=")
        values = value.split(",") if sweep and sep and not value.startswith("[") else [value]
        for v in values:
            check([f"{key}={v}" if sep else text])


def fail(err: Exception, status: int = 2, label: str = "error") -> int:
    """Prints the one-line message (`label: message`) and returns the exit status (2: bad input)."""
    print(f"{label}: {err}", file=sys.stderr, flush=True)
    return status


def launch(config_dir: Path, task_function: Callable[[Any], None], flags: list[str], overrides: list[str]) -> None:
    """Runs `task_function` under hydra with these flags and overrides; `run_dir=...` becomes hydra's run dir."""
    import hydra

    run_dir = next((o.split("=", 1)[1] for o in overrides if o.startswith("run_dir=")), None)
    if run_dir and run_dir != "null":
        overrides = [*overrides, f"hydra.run.dir={run_dir}"]
    sys.argv = [sys.argv[0], *flags, *overrides]
    hydra.main(config_path=str(config_dir), config_name="config", version_base="1.3")(task_function)()
