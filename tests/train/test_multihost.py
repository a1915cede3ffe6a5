"""Two processes on this machine train one run as two hosts would (CPU devices joined by gloo, a coordinator on
127.0.0.1), started as the README says: the command line with distributed=true and JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES and JAX_PROCESS_ID. Two seeds, one per process; process 0's metrics must equal a single-process
run of the same seeds on two local devices, before and after the pair resumes from its checkpoint. A lost process
stops the other in one line.

All the runs share a persistent compilation cache: the pair's programs compile once, and its later runs read them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from tests.train.conftest import TINY_PENDULUM

ROOT = Path(__file__).resolve().parents[2]

SMALL = [*TINY_PENDULUM, "num_seeds=2", "eval.every_env_steps=800", "checkpoint.every_env_steps=800"]
FIRST, TOTAL = 800, 2000
"""The pair trains 800 env steps (2 chunks, a checkpoint), then resumes to 2000; the reference trains 2000."""
DM_CONTROL = "eval.dm_control_episodes=1"
"""The final policies in real dm_control, gathered from both processes (the reference and the resumed pair)."""
TIMEOUT_S = 900
"""Upper bound on any one run here (their compilation dominates)."""

# Keys that measure wall-clock time or memory, not the run's results.
TIMING = ("time/", "perf/")


_DROPPED = (
    "JAX_ENABLE_COMPILATION_CACHE",
    "JAX_COORDINATOR_ADDRESS",
    "JAX_NUM_PROCESSES",
    "JAX_PROCESS_ID",
    "JAX_COMPILATION_CACHE_DIR",
)


def _env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: this checkout's code, a shared compilation cache, the suite's compiler flags."""
    # No cluster of the machine running the tests (SLURM, Open MPI) may join these runs.
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith(("SLURM_", "OMPI_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache))
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process(NamedTuple):
    """A started run and the file that holds its stderr."""

    popen: subprocess.Popen
    log: Path


def _start(overrides: list[str], env: dict[str, str], log: Path) -> Process:
    cmd = [sys.executable, "-m", "mjx_iqrl.train", *SMALL, *overrides]
    with log.open("w") as err:
        return Process(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err), log)


def _start_pair(run_dir: Path, cache: Path, logs: Path, *overrides: str) -> list[Process]:
    """The two processes of a distributed run in `run_dir` (stderr of process i in `logs`/<i>.err)."""
    logs.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{_free_port()}"
    pair = []
    for i in range(2):
        env = _env(cache, JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i))
        pair.append(_start(["distributed=true", f"run_dir={run_dir}", *overrides], env, logs / f"{i}.err"))
    return pair


def _finish(processes: list[Process]) -> None:
    """Waits for every process; each must exit 0."""
    for process in processes:
        rc = process.popen.wait(timeout=TIMEOUT_S)
        assert rc == 0, f"{process.log} exited {rc}: {process.log.read_text()[-3000:]}"


def _records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if not k.startswith(TIMING)} for line in lines]


def _assert_equal_runs(got: list[dict], want: list[dict]) -> None:
    """Same records, keys and values (float32 tolerance)."""
    assert [r["env_steps"] for r in got] == [r["env_steps"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys(), (a["env_steps"], set(a) ^ set(b))
        for key in a:
            x, y = np.asarray(a[key], np.float64), np.asarray(b[key], np.float64)
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=f"{key} at env step {a['env_steps']}")


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> dict:
    """The single-process reference (two local devices, 2000 env steps) and the pair's first 800 env steps, run
    side by side."""
    tmp = tmp_path_factory.mktemp("multihost")
    cache = tmp / "cache"
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    reference = _start(
        [f"train.total_env_steps={TOTAL}", f"run_dir={tmp / 'reference'}", DM_CONTROL],
        _env(cache, XLA_FLAGS=flags),
        tmp / "reference.err",
    )
    pair = _start_pair(tmp / "pair", cache, tmp / "first", f"train.total_env_steps={FIRST}")
    _finish([reference])
    return {"tmp": tmp, "cache": cache, "pair": pair, "reference": _records(tmp / "reference")}


def test_two_processes_train_like_one_process_with_two_devices(setting):
    """Both processes exit 0; process 0's metrics (it alone writes them) equal the single-process run's."""
    tmp = setting["tmp"]
    _finish(setting["pair"])
    _assert_equal_runs(_records(tmp / "pair"), setting["reference"][:3])


def test_two_processes_resume_from_their_checkpoint(setting):
    """The pair resumes from the checkpoint both processes wrote and ends with the reference's metrics (the final
    policies' dm_control returns included); the policy of the multi-process checkpoint loads in this process."""
    tmp = setting["tmp"]
    _finish(setting["pair"])
    resume = (f"train.total_env_steps={TOTAL}", "resume=true", DM_CONTROL)
    _finish(_start_pair(tmp / "pair", setting["cache"], tmp / "resumed", *resume))
    records = _records(tmp / "pair")
    _assert_equal_runs(records, setting["reference"])
    assert len(records[-1]["dm_control/return_mean/per_seed"]) == 2

    from mjx_iqrl.checkpoint import load_policy

    policy = load_policy(tmp / "pair", seed_index=1)
    assert policy.task == "pendulum-swingup" and np.asarray(policy.act(np.zeros((1, 3), np.float32))).shape == (1, 1)


def test_a_lost_process_stops_the_other_in_one_line(setting):
    """Process 1 killed after the first chunk: process 0 stops within seconds with exit status 5 and one line."""
    tmp = setting["tmp"]
    run_dir, logs = tmp / "lost", tmp / "lost_logs"
    budget = ("train.total_env_steps=100000", "multihost.heartbeat_timeout_s=60")
    pair = _start_pair(run_dir, setting["cache"], logs, *budget)
    first, second = (process.popen for process in pair)
    deadline = time.time() + TIMEOUT_S
    metrics = run_dir / "metrics.jsonl"
    while time.time() < deadline and first.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert first.poll() is None, (logs / "0.err").read_text()[-3000:]
    second.send_signal(signal.SIGKILL)
    killed = time.time()
    rc = first.wait(timeout=120)
    waited = time.time() - killed
    second.wait()
    err = (logs / "0.err").read_text()
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert rc == 5 and waited < 60, (rc, waited, err[-3000:])
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: another process of this multi-host run was lost (")
    assert err.rstrip().endswith("start every process again with resume=true")


def test_distributed_without_a_cluster_is_one_line(tmp_path):
    """distributed=true with no coordinator, process count or index (and no cluster to detect): one line naming
    what to set, exit status 2."""
    done = subprocess.run(
        [sys.executable, "-m", "mjx_iqrl.train", *SMALL, "distributed=true", f"run_dir={tmp_path / 'run'}"],
        cwd=ROOT,
        env=_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: distributed=true: ")
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        assert f"${name}" in lines[0]
