"""Two processes on this machine train one run as two hosts would (CPU devices joined by gloo, a coordinator on
127.0.0.1), started as the README says: the command line with distributed=true and JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES and JAX_PROCESS_ID. Two seeds, one per process. The pair trains until its first periodic
checkpoint, then process 1 is killed: process 0 must stop in one line, and its metrics so far equal a
single-process run of the same seeds on two local devices. Started again with resume=true, both processes finish
with exit status 0 and the reference's metrics.

All the runs share a persistent compilation cache: the pair's programs compile once, and the resumed pair reads them.
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
CHECKPOINT, TOTAL = 2, 2000
"""The pair is killed once checkpoint 2 (800 env steps) is written, then resumes to 2000; the reference trains 2000."""
UNBOUNDED = ("train.total_env_steps=100000", "multihost.heartbeat_timeout_s=60")
"""The first pair's budget: it ends only when a process is lost."""
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


class Loss(NamedTuple):
    """What process 0 did after process 1 was killed."""

    returncode: int
    waited_s: float
    stderr: str


def _kill_second_after_checkpoint(pair: list[Process], run_dir: Path) -> Loss:
    """SIGKILLs process 1 as soon as checkpoint `CHECKPOINT` is on disk (orbax renames a finished one into place),
    then waits for process 0."""
    first, second = (process.popen for process in pair)
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline and first.poll() is None and not (run_dir / "checkpoints" / str(CHECKPOINT)).is_dir():
        time.sleep(0.1)
    assert first.poll() is None and second.poll() is None, pair[0].log.read_text()[-3000:]
    second.send_signal(signal.SIGKILL)
    killed = time.time()
    rc = first.wait(timeout=120)
    waited = time.time() - killed
    second.wait()
    return Loss(rc, waited, pair[0].log.read_text())


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> dict:
    """The single-process reference (two local devices, 2000 env steps) side by side with the pair, whose process 1
    is killed after checkpoint 2."""
    tmp = tmp_path_factory.mktemp("multihost")
    cache = tmp / "cache"
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    reference = _start(
        [f"train.total_env_steps={TOTAL}", f"run_dir={tmp / 'reference'}", DM_CONTROL],
        _env(cache, XLA_FLAGS=flags),
        tmp / "reference.err",
    )
    pair = _start_pair(tmp / "pair", cache, tmp / "first", *UNBOUNDED)
    loss = _kill_second_after_checkpoint(pair, tmp / "pair")
    first_records = _records(tmp / "pair")
    _finish([reference])
    return {"tmp": tmp, "cache": cache, "loss": loss, "first": first_records, "reference": _records(tmp / "reference")}


def test_two_processes_train_like_one_process_with_two_devices(setting):
    """Process 0's metrics (it alone writes them), up to the loss of process 1, equal the single-process run's."""
    first = setting["first"]
    assert len(first) >= CHECKPOINT + 1, first
    _assert_equal_runs(first, setting["reference"][: len(first)])


def test_a_lost_process_stops_the_other_in_one_line(setting):
    """Process 1 killed: process 0 stops within seconds with exit status 5 and one line."""
    loss = setting["loss"]
    lines = [line for line in loss.stderr.splitlines() if line.startswith("error: ")]
    assert loss.returncode == 5 and loss.waited_s < 60, (loss.returncode, loss.waited_s, loss.stderr[-3000:])
    assert len(lines) == 1 and "Traceback" not in loss.stderr, loss.stderr
    assert lines[0].startswith("error: another process of this multi-host run was lost (")
    assert loss.stderr.rstrip().endswith("start every process again with resume=true")


def test_two_processes_resume_from_their_checkpoint(setting):
    """Both processes, started again with resume=true after the loss, exit 0 and end with the reference's metrics
    (the final policies' dm_control returns included); the policy of the multi-process checkpoint loads in this
    process."""
    tmp = setting["tmp"]
    resume = (f"train.total_env_steps={TOTAL}", "resume=true", DM_CONTROL)
    _finish(_start_pair(tmp / "pair", setting["cache"], tmp / "resumed", *resume))
    records = _records(tmp / "pair")
    _assert_equal_runs(records, setting["reference"])
    assert len(records[-1]["dm_control/return_mean/per_seed"]) == 2

    from mjx_iqrl.checkpoint import load_policy

    policy = load_policy(tmp / "pair", seed_index=1)
    assert policy.task == "pendulum-swingup" and np.asarray(policy.act(np.zeros((1, 3), np.float32))).shape == (1, 1)


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
