"""A quiet console: a tiny training run's stderr holds only the trainer's own lines, and loading what it loads
(MJX with brax, dm_control's cheetah, rliable's bootstrap) prints nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.train.test_training import _cli

# The trainer's own lines: its messages and tqdm's progress bar (" 50%|#####     | 400/800 [...]").
OWN = re.compile(r"^(mjx_iqrl: |\s*\d+%\|)")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def test_a_tiny_training_run_prints_only_its_own_lines(tmp_path, cli_cache):
    """The stop test's tiny pendulum run (its programs come from the shared compilation cache) with a progress bar,
    two evaluations and a final evaluation in dm_control; rliable's bootstrap is the next test's."""
    args = ["train.total_env_steps=800", "eval.every_env_steps=400", "eval.dm_control_episodes=1"]
    cmd, env = _cli(*args, "logger.progress=true", f"run_dir={tmp_path / 'run'}", cache=cli_cache)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in re.split(r"[\r\n]+", done.stderr) if line.strip()]
    assert any(line.startswith("mjx_iqrl: compiled") for line in lines)
    assert [line for line in lines if not OWN.match(line)] == []


def test_loading_brax_dm_control_and_rliable_prints_nothing():
    """MJX's notice about the optional Warp backend (brax imports MJX), MuJoCo's `settotalmass` notice (dm_control's
    cheetah, compiled by dm_control and by us) and arch's deprecation warning under rliable's bootstrap."""
    code = (
        "import mjx_iqrl.baseline, brax.training.agents.sac.train, envs\n"
        "from envs import reference\n"
        "from mjx_iqrl.aggregate import summarize\n"
        "envs.make('cheetah-run'); reference.load('cheetah-run', 0); envs.make('cheetah-run', physics='fast')\n"
        "summarize([1.0, 2.0, 3.0], 'x')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert (done.stdout, done.stderr) == ("", "")
