"""Command line: `python -m mjx_iqrl.baseline algo=ppo|sac task=cartpole-swingup [key=value ...]`.

Trains brax's PPO or SAC on one of our MJX tasks with MuJoCo Playground's published DMC settings (see
configs/baseline/config.yaml for the numbers and their source), evaluated by the trainer's protocol: the
deterministic policy over whole 1000-step episodes, action repeat 2 with summed rewards, returns on the 0-1000 scale.
The run directory has the trainer's layout (config.yaml, metrics.jsonl, checkpoints/).

Examples:
  python -m mjx_iqrl.baseline algo=ppo task=cheetah-run
  python -m mjx_iqrl.baseline algo=sac task=walker-walk train.total_env_steps=2000000 seed=1
  python -m mjx_iqrl.baseline algo=ppo task=cartpole-swingup train.max_train_seconds=600 ppo.num_envs=256
  python -m mjx_iqrl.baseline algo=sac task=cartpole-swingup eval.dm_control_episodes=5   # also in dm_control

Overrides are checked before anything runs: an unknown key or algo, a wrongly typed value or an unknown task is one
line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mjx_iqrl import cli
from mjx_iqrl.baseline import config
from mjx_iqrl.errors import ConfigError, ModelFilesError


def help_text() -> str:
    """Usage, examples, algorithms, tasks and every option with its default and meaning."""
    import envs

    return "\n".join(
        [
            __doc__.strip(),
            "",
            *cli.options_help(config.BaselineConfig, "configs/baseline/config.yaml"),
            "",
            f"Algorithms (algo=<name>): {', '.join(config.ALGOS)}",
            f"Tasks (task=<name>): {', '.join(envs.list_tasks())}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line, validates it, and runs the baseline through hydra."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(help_text())
        return 0
    try:
        flags, overrides, sweep = cli.split_argv(argv)
        cli.check_each(overrides, sweep, config.check_overrides)
        if sweep:
            raise ConfigError("--multirun is not supported for baselines; run one command per setting")
        config.compose(overrides)  # the whole config is validated before hydra creates a run directory
        overrides = config.with_task_defaults(overrides)
    except ConfigError as err:
        return cli.fail(err)
    cli.launch(config.CONFIG_DIR, _task_function, flags, overrides)
    return 0


def _task_function(composed) -> None:
    """Hydra's job: build the BaselineConfig, then `run` it in hydra's output directory (or `run_dir`)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from mjx_iqrl.baseline.runner import run

    try:
        cfg = config.from_omegaconf(OmegaConf.to_container(composed, resolve=True))
        run(cfg, run_dir=cfg.run_dir or HydraConfig.get().runtime.output_dir)
    except (ConfigError, ModelFilesError) as err:
        sys.exit(cli.fail(err))


if __name__ == "__main__":
    sys.exit(main())
