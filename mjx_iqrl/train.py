"""Command line: `python -m mjx_iqrl.train task=cheetah-run [key=value ...]`.

Examples:
  python -m mjx_iqrl.train task=cheetah-run                     # the reference protocol (preset=paper)
  python -m mjx_iqrl.train task=cheetah-run preset=fast         # 256 envs, utd 1/4: the time-efficient regime
  python -m mjx_iqrl.train task=walker-walk num_seeds=8 train.total_env_steps=500000
  python -m mjx_iqrl.train run_dir=runs/cheetah-run/<run> resume=true
  python -m mjx_iqrl.train --multirun task=cheetah-run,walker-walk seed=1,2,3   # a hydra sweep

Overrides are checked before anything runs: an unknown key, a wrongly typed value or an unknown task is one line on
stderr and exit status 2. Every fault is one line too (mjx_iqrl/faults.py), with its exit status: 2 bad input
(also an unreadable run directory, a resume that changes shapes, a state larger than the device), 3 a non-finite
loss (the last good checkpoint is kept), 4 no space left on device, 5 another process of a multi-host run lost,
75 stopped by SIGTERM, SIGINT or SIGUSR1 after writing a checkpoint (continue with resume=true).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mjx_iqrl import cli, config
from mjx_iqrl.errors import ConfigError, ModelFilesError


def help_text() -> str:
    """Usage, examples, presets, tasks and every option with its default and meaning."""
    import envs

    presets = sorted(p.stem for p in (config.CONFIG_DIR / "preset").glob("*.yaml"))
    return "\n".join(
        [
            __doc__.strip(),
            "",
            *cli.options_help(config.Config, "configs/config.yaml"),
            "",
            f"Presets (preset=<name>): {', '.join(presets)}",
            f"Tasks (task=<name>): {', '.join(envs.list_tasks())}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line, validates it, and runs training through hydra."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(help_text())
        return 0
    try:
        flags, overrides, sweep = cli.split_argv(argv)
        cli.check_each(overrides, sweep, config.check_overrides)
        overrides = config.normalise_overrides(overrides)
        if not sweep:
            # The whole composed config is validated before hydra creates a run directory.
            _check_resumable(config.compose(overrides))
    except ConfigError as err:
        return cli.fail(err)
    cli.launch(config.CONFIG_DIR, _task_function, flags, overrides)
    return 0


def _check_resumable(cfg: config.Config) -> None:
    """resume=true needs a run_dir that holds a checkpoint; distributed=true, one run_dir that every process names."""
    if cfg.distributed and cfg.run_dir is None:
        raise ConfigError("distributed=true needs run_dir=<a folder every process sees at the same path>")
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

    from mjx_iqrl.faults import Fault, ProcessLostError, quiet_echoes
    from mjx_iqrl.runner import run

    quiet_echoes()
    try:
        cfg = config.from_omegaconf(OmegaConf.to_container(composed, resolve=True))
        run(cfg, run_dir=cfg.run_dir or HydraConfig.get().runtime.output_dir)
    except (ConfigError, ModelFilesError) as err:
        sys.exit(cli.fail(err))
    except Fault as err:
        status = cli.fail(err, err.exit_code, err.label)
        if isinstance(err, ProcessLostError):
            # jax.distributed's exit barrier would wait for the lost process, then abort with a page of C++ log.
            os._exit(status)
        sys.exit(status)


if __name__ == "__main__":
    sys.exit(main())
