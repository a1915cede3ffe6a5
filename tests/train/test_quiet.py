"""A quiet console: loading what a run loads (MJX with brax, dm_control's cheetah, rliable's bootstrap) prints
nothing. A training run's own console is checked by the stop test (`tests/train/test_training.py`)."""

from __future__ import annotations

import os
import subprocess
import sys


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


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
