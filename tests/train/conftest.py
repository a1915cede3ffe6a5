"""One small cartpole-swingup configuration, compiled once per session and shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mjx_iqrl import config
from mjx_iqrl.runner import CompiledRun, compile_run

# 4 envs x action repeat 2 = 8 env steps per vector step; a chunk is 50 vector steps (400 env steps, 200 updates
# after warm-up at utd 1). Warm-up is the first 50 vector steps. Sizes that change the compiled program are fixed
# here; budgets and evaluation/checkpoint periods are host-side and may vary per test.
BASE = [
    "task=cartpole-swingup",
    "train.num_envs=4",
    "train.batch_size=32",
    "train.warmup_env_steps=400",
    "train.chunk_env_steps=400",
    "train.replay_capacity=40000",
    "agent.latent_dim=32",
    "agent.mlp_dims=[64,64]",
    "agent.enc_mlp_dims=[64]",
    "eval.episodes=4",
    "logger.progress=false",
]


# The command-line runs (stop and kill, quiet console, two processes): a cheap physics model and small networks, for
# runs that only need to train, stop and resume.
TINY_PENDULUM = [
    "task=pendulum-swingup",
    "train.num_envs=4",
    "train.batch_size=16",
    "train.warmup_env_steps=400",
    "train.chunk_env_steps=400",
    "train.replay_capacity=8000",
    "agent.latent_dim=8",
    "agent.mlp_dims=[16]",
    "agent.enc_mlp_dims=[16]",
    "agent.num_critics=2",
    "eval.episodes=2",
    "logger.progress=false",
]


def make_cfg(*overrides: str) -> config.Config:
    """The shared configuration with extra (host-side) overrides."""
    return config.compose([*BASE, *overrides])


@pytest.fixture(scope="session")
def cli_cache(tmp_path_factory) -> Path:
    """A persistent compilation cache shared by the command-line runs of the tiny pendulum configuration (their
    tests form one worker group, so the first run's programs are read back by the others)."""
    return tmp_path_factory.mktemp("cli_cache")


@pytest.fixture(scope="session")
def compiled() -> CompiledRun:
    """The shared configuration's compiled run (the same program the CLI builds for it; benchmark runs of the same
    shapes in this process reuse it)."""
    return compile_run(make_cfg())
