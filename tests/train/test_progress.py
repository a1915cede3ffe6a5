"""Honest progress: the default chunk size follows the regime and the device, and the time left comes from the
learning phase only."""

from __future__ import annotations

import pytest

from mjx_iqrl import config
from mjx_iqrl.logger import ProgressBar


@pytest.mark.parametrize(
    "overrides, backend, vector_steps",
    [
        # paper: 1 update per agent step; ~100 updates per chunk on CPU, ~2000 on an accelerator.
        ([], "cpu", 100),
        ([], "gpu", 2000),
        # fast: 256 envs x 1/4 = 64 updates per agent step: floor(100 / 64) on CPU, floor(2000 / 64) on a GPU.
        (["preset=fast"], "cpu", 1),
        (["preset=fast"], "gpu", 31),
        # env-heavy with few updates: capped by env steps (20k on CPU = 10 agent steps of 1024 envs x repeat 2).
        (["train.num_envs=1024", "train.utd_ratio=0.001"], "cpu", 9),
        # an explicit size wins: 4000 env steps / (4 envs x repeat 2).
        (["train.num_envs=4", "train.chunk_env_steps=4000"], "cpu", 500),
    ],
)
def test_default_chunk_size_follows_regime_and_device(overrides, backend, vector_steps):
    cfg = config.compose(["task=cartpole-swingup", *overrides])
    assert config.chunk_vector_steps(cfg, backend) == vector_steps
    assert config.derive(cfg, 1000, backend).vector_steps_per_chunk == vector_steps


def test_paper_preset_is_the_reference_protocol():
    """preset=paper resolves to the reference's numbers (REFERENCE.md section 2), whatever knobs exist."""
    cfg = config.compose(["task=cheetah-run", "preset=paper"])
    t, a = cfg.train, cfg.agent
    assert (t.num_envs, t.utd_ratio, t.batch_size, t.warmup_env_steps) == (1, 1.0, 256, 10_000)
    assert (t.noise_start, t.noise_end, config.derive(cfg, 1000, "cpu").noise_decay_env_steps) == (1.0, 0.1, 150_000)
    assert (a.lr, a.enc_lr, a.actor_update_freq, a.tau, a.enc_tau, a.nstep, a.horizon) == (
        3e-4,
        1e-4,
        2,
        0.005,
        0.005,
        1,
        5,
    )
    assert (a.latent_dim, a.mlp_dims, a.enc_mlp_dims, a.num_critics, a.q_sample_size) == (512, (512, 512), (256,), 5, 2)
    assert cfg.env.action_repeat == 2 and t.replay_capacity >= 1_000_000


def test_time_left_comes_from_the_learning_phase():
    """Warm-up chunks (1000 env steps per second) say nothing about learning (100 per second): the bar shows
    'warm-up', then extrapolates from learning-phase records only."""
    bar = ProgressBar(10_000, 0, 2_000)
    left = [
        bar._time_left(steps, elapsed) for steps, elapsed in ((1_000, 1.0), (2_000, 2.0), (3_000, 12.0), (4_000, 22.0))
    ]
    bar.close()
    # 1000: warm-up; 2000: warm-up done, the clock starts; 3000: 1000 steps in 10 s, 7000 left -> 70 s; 4000: 60 s.
    assert left == ["warm-up", "?", "1:10", "1:00"]
