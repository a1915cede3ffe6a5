"""The brax baselines: the JAX compatibility function, tiny PPO and SAC runs through `mjx_iqrl.baseline`, and bad
input."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl import baseline
from mjx_iqrl.baseline.__main__ import main
from mjx_iqrl.baseline.compat import ensure_device_put_replicated
from mjx_iqrl.baseline.runner import CompileClock

# Sizes (and the cheapest model, pendulum) that keep brax's programs small; the budget is two evaluations
# (before training and after it: each further one recompiles brax's evaluator).
TINY = {
    "ppo": [
        "ppo.num_envs=8",
        "ppo.batch_size=8",
        "ppo.unroll_length=5",
        "ppo.num_minibatches=2",
        "ppo.num_updates_per_batch=1",
        "ppo.num_resets_per_eval=0",
        "ppo.policy_hidden_layer_sizes=[16]",
        "ppo.value_hidden_layer_sizes=[16]",
        "train.total_env_steps=320",
        "eval.every_env_steps=320",
    ],
    "sac": [
        "sac.num_envs=8",
        "sac.batch_size=16",
        "sac.grad_updates_per_step=1",
        "sac.min_replay_size=32",
        "sac.max_replay_size=1024",
        "sac.hidden_layer_sizes=[16]",
        "train.total_env_steps=192",
        "eval.every_env_steps=192",
    ],
}


def test_device_put_replicated_is_set_only_where_jax_lacks_it(monkeypatch):
    """Where JAX lacks it the function is installed and gives pmap a replicated argument; where JAX has one, it is
    left alone."""
    monkeypatch.delattr(jax, "device_put_replicated", raising=False)
    assert not hasattr(jax, "device_put_replicated")
    assert ensure_device_put_replicated() is True
    devices = jax.local_devices()[:1]
    tree = {"a": jnp.arange(3.0), "b": 2.0}
    replicated = jax.device_put_replicated(tree, devices)
    assert replicated["a"].shape == (1, 3) and replicated["b"].shape == (1,)
    doubled = jax.pmap(lambda t: t["a"] * t["b"])(replicated)
    np.testing.assert_array_equal(np.asarray(doubled), [[0.0, 2.0, 4.0]])

    own = object()
    monkeypatch.setattr(jax, "device_put_replicated", own, raising=False)
    assert ensure_device_put_replicated() is False
    assert jax.device_put_replicated is own


# brax compiles these few hundred env steps of pendulum unoptimised: SAC's test took 150 s optimised, 109 s so.
@pytest.mark.unoptimized
@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_tiny_baseline_run_writes_the_trainer_metrics(algo, tmp_path):
    """A tiny run writes config.yaml, checkpoints and metrics.jsonl with the trainer's keys and finite returns on
    the 0-1000 scale; its final policy acts on observations."""
    cfg = baseline.compose([f"algo={algo}", "task=pendulum-swingup", "eval.episodes=2", "progress=false", *TINY[algo]])
    result = baseline.run(cfg, run_dir=tmp_path / algo)
    lines = [json.loads(x) for x in (tmp_path / algo / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) >= 2 and lines == result.records
    for record in lines:
        assert {"env_steps", "eval/return_mean", "time/train_s", "time/compile_s"} <= set(record)
        assert math.isfinite(record["eval/return_mean"]) and 0 <= record["eval/return_mean"] <= 1000
    assert lines[0]["env_steps"] == 0 and lines[-1]["env_steps"] > 0
    assert lines[-1]["time/compile_s"] > 0 and lines[-1]["time/train_s"] > 0
    assert (tmp_path / algo / "config.yaml").is_file() and any((tmp_path / algo / "checkpoints").iterdir())
    action = np.asarray(result.act(np.zeros((1, 3), np.float32)))
    assert action.shape == (1, 1) and np.all(np.abs(action) <= 1)


def test_compile_clock_counts_nested_and_overlapping_spans_once():
    """Nested compile events count once; a compile inside an evaluation is not subtracted twice from training."""
    clock = CompileClock()
    clock.compiled(1.0, end=11.0)  # [10, 11], inside the next
    clock.compiled(3.0, end=12.0)  # [9, 12]
    clock.compiled(0.5, end=20.0)  # [19.5, 20]
    assert clock.seconds == pytest.approx(3.5)
    clock.evaluated(2.0, end=21.0)  # [19, 21] holds the last compile
    clock.evaluated(1.0, end=30.0)  # [29, 30]
    assert clock.seconds == pytest.approx(3.5)
    assert clock.not_training_seconds == pytest.approx(3.0 + 2.0 + 1.0)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["algo=trpo"], "unknown algo 'trpo'; known: ppo, sac"),
        (["task=cheetah-sprint"], "unknown task 'cheetah-sprint'"),
        (["ppo.num_envs=many"], "ppo.num_envs='many' must be int"),
        (["sac.nope=1"], "unknown config key 'sac.nope'"),
    ],
)
def test_bad_input_is_one_line(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1


def test_playground_task_settings_apply_and_the_command_line_wins():
    assert baseline.compose(["algo=ppo", "task=finger-spin"]).ppo.discounting == 0.95
    assert baseline.compose(["algo=ppo", "task=finger_spin", "ppo.discounting=0.9"]).ppo.discounting == 0.9
    sac = baseline.compose(["algo=sac", "task=cheetah-run"])
    assert (sac.total_env_steps, sac.sac.num_envs, sac.sac.batch_size, sac.sac.grad_updates_per_step) == (
        10_000_000,
        128,
        512,
        8,
    )
    assert baseline.compose(["algo=ppo"]).ppo.num_envs == 2048
