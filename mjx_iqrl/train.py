"""Command line: `python -m mjx_iqrl.train task=cheetah-run [key=value ...]`.

Examples:
  python -m mjx_iqrl.train task=cheetah-run                     # the reference protocol (preset=paper)
  python -m mjx_iqrl.train task=cheetah-run preset=fast         # thousands of envs, the time-efficient regime
  python -m mjx_iqrl.train task=walker-walk num_seeds=8 train.total_env_steps=500000
  python -m mjx_iqrl.train run_dir=runs/cheetah-run/<run> resume=true
  python -m mjx_iqrl.train --multirun task=cheetah-run,walker-walk seed=1,2,3   # a hydra sweep

Overrides are checked before anything runs: an unknown key, a wrongly typed value or an unknown task is one line on
stderr and exit status 2. A non-finite loss stops the run (exit status 3) and keeps the last good checkpoint.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mjx_iqrl import config, schema
from mjx_iqrl.errors import ConfigError, ModelFilesError

# Hydra's own flags that take a value, and the sweep flag.
_HYDRA_FLAGS = ("--multirun", "-m", "--cfg", "-c", "--resolve", "--info", "-i")


def help_text() -> str:
    """Usage, examples, presets, tasks and every option with its default and meaning."""
    import envs

    lines = [__doc__.strip(), "", "Options (key=value; defaults in configs/config.yaml):"]
    for key, hint, default, doc in schema.walk_fields(config.Config):
        shown = list(default) if isinstance(default, tuple) else default
        lines.append(f"  {key}={shown}  ({schema.describe(hint)})")
        if doc:
            lines.append(f"      {doc}")
    presets = sorted(p.stem for p in (config.CONFIG_DIR / "preset").glob("*.yaml"))
    lines += [
        "",
        f"Presets (preset=<name>): {', '.join(presets)}",
        f"Tasks (task=<name>): {', '.join(envs.list_tasks())}",
    ]
    return "\n".join(lines)


def _check(overrides: Sequence[str], sweep: bool) -> None:
    """Validates every override; in a sweep, each comma-separated value of a key separately."""
    for text in overrides:
        key, sep, value = text.partition("=")
        values = value.split(",") if sweep and sep and not value.startswith("[") else [value]
        for v in values:
            config.check_overrides([f"{key}={v}" if sep else text])


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line, validates it, and runs training through hydra."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(help_text())
        return 0
    flags = [a for a in argv if a.startswith("-")]
    overrides = [a for a in argv if not a.startswith("-")]
    unknown = [f for f in flags if f.split("=")[0] not in _HYDRA_FLAGS and not f.startswith("--config")]
    try:
        if unknown:
            raise ConfigError(f"unknown flag {unknown[0]!r}; options are key=value overrides (see --help)")
        sweep = any(f in ("--multirun", "-m") for f in flags)
        _check(overrides, sweep)
        overrides = config.normalise_overrides(overrides)
        if not sweep:
            # The whole composed config is validated before hydra creates a run directory.
            _check_resumable(config.compose(overrides))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run_dir = next((o.split("=", 1)[1] for o in overrides if o.startswith("run_dir=")), None)
    if run_dir and run_dir != "null":
        overrides.append(f"hydra.run.dir={run_dir}")
    sys.argv = [sys.argv[0], *flags, *overrides]
    _hydra_entry()
    return 0


def _check_resumable(cfg: config.Config) -> None:
    """resume=true needs a run_dir that holds a checkpoint."""
    if not cfg.resume:
        return
    if cfg.run_dir is None:
        raise ConfigError("resume=true needs run_dir=<the run directory to continue>")
    from mjx_iqrl.checkpoint import find_checkpoint

    find_checkpoint(cfg.run_dir)


def _task_function(composed) -> None:
    """Hydra's job: build the Config, then `run` it in hydra's output directory (or `run_dir`)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from mjx_iqrl.runner import NonFiniteLossError, run

    try:
        cfg = config.from_omegaconf(OmegaConf.to_container(composed, resolve=True))
        run(cfg, run_dir=cfg.run_dir or HydraConfig.get().runtime.output_dir)
    except (ConfigError, ModelFilesError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(3)


def _hydra_entry() -> None:
    import hydra

    hydra.main(config_path=str(config.CONFIG_DIR), config_name="config", version_base="1.3")(_task_function)()


if __name__ == "__main__":
    sys.exit(main())
