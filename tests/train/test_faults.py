"""Runs that survive: a stop signal ends a run with a checkpoint and resumes exactly; each fault a user can meet
(an unreadable checkpoint, a resume with other shapes, a full disk, a state larger than the device) is one line,
and what it keeps is checked."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import threading

import jax
import jax.numpy as jnp
import pytest
from orbax.checkpoint._src.path import async_path

from mjx_iqrl import faults, memory
from mjx_iqrl.checkpoint import UNREADABLE_DIR, Checkpointer
from mjx_iqrl.config import MultihostOptions
from mjx_iqrl.distributed import cluster_spec
from mjx_iqrl.errors import ConfigError
from mjx_iqrl.logger import Logger
from mjx_iqrl.runner import compile_run, run
from mjx_iqrl.train import main
from tests.train.conftest import BASE, make_cfg

TIMING = ("time/", "perf/")


def _results(records):
    return [{k: v for k, v in r.items() if not k.startswith(TIMING)} for r in records]


def _logged(run_dir):
    return _results([json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()])


def _cli(*overrides):
    """Runs the command line in this process (its programs are the shared compiled run's); its exit status."""
    with pytest.raises(SystemExit) as stopped:
        main([*BASE, *overrides])
    return stopped.value.code


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_sigterm_stops_at_a_chunk_boundary_with_a_checkpoint_and_resumes_exactly(
    compiled, tmp_path, monkeypatch, capsys
):
    """SIGTERM right after the second chunk's record: the run stops before the next chunk, writes checkpoint 2 (a
    second SIGTERM arrives while orbax writes it), and says so in one line; resume=true then gives exactly the
    metrics of an uninterrupted run."""
    assert threading.current_thread() is threading.main_thread(), "signal handlers need the main thread"
    common = ("train.total_env_steps=1600", "eval.every_env_steps=800", "checkpoint.every_env_steps=100000")
    whole = run(make_cfg(*common), tmp_path / "whole", compiled)

    log, write_text, sent = Logger.log, async_path.write_text, []

    def log_then_signal(self, record):
        log(self, record)
        if record["env_steps"] == 800:
            os.kill(os.getpid(), signal.SIGTERM)

    async def write_while_signalled(path, text):
        if not sent:
            sent.append(path)
            os.kill(os.getpid(), signal.SIGTERM)
        return await write_text(path, text)

    monkeypatch.setattr(Logger, "log", log_then_signal)
    monkeypatch.setattr(async_path, "write_text", write_while_signalled)
    split, handler = tmp_path / "split", signal.getsignal(signal.SIGTERM)
    with pytest.raises(faults.Preempted) as stopped:
        run(make_cfg(*common), split, compiled)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) is handler, "the run left its signal handler installed"
    assert stopped.value.exit_code == 75 and "\n" not in str(stopped.value)
    assert str(stopped.value).startswith("SIGTERM at env step 800: checkpoint 2 is in ")
    assert f"run_dir={split} resume=true" in str(stopped.value)
    messages = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mjx_iqrl: got ")]
    assert sent and messages == [
        "mjx_iqrl: got SIGTERM: stopping after the current chunk, with a checkpoint",
        "mjx_iqrl: got SIGTERM again: the run stops as soon as its checkpoint is complete",
    ]
    assert Checkpointer(split).latest_step() == 2
    assert [r["env_steps"] for r in _logged(split)] == [0, 400, 800]

    resumed = run(make_cfg(*common, "resume=true"), split, compiled)
    assert _results(resumed.records) == _results(whole.records)[-2:]
    assert _logged(split) == _results(whole.records)


def _truncate(folder):
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_an_unreadable_newest_checkpoint_falls_back_to_the_older_one(compiled, tmp_path, capsys):
    """The newest checkpoint's state files truncated: resume=true says so in one line, sets it aside, continues
    from the older one, and ends with the uninterrupted run's metrics; with every checkpoint truncated, resume is
    one line naming the folder."""
    common = ("eval.every_env_steps=800", "checkpoint.every_env_steps=400")
    whole = run(make_cfg("train.total_env_steps=1600", *common), tmp_path / "whole", compiled)
    split = tmp_path / "split"
    run(make_cfg("train.total_env_steps=1200", *common), split, compiled)  # keeps checkpoints 2 and 3
    _truncate(split / "checkpoints" / "3" / "state")
    capsys.readouterr()

    resumed = run(make_cfg("train.total_env_steps=1600", "resume=true", *common), split, compiled)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"warning: checkpoint 3 in {split / 'checkpoints'} is unreadable (")
    assert "resuming from checkpoint 2" in warnings[0] and str(split / UNREADABLE_DIR / "3") in warnings[0]
    assert (split / UNREADABLE_DIR / "3" / "state").is_dir()
    assert _results(resumed.records) == _results(whole.records)[-2:]
    assert Checkpointer(split).latest_step() == 4

    for step in (3, 4):
        _truncate(split / "checkpoints" / str(step) / "state")
    with pytest.raises(ConfigError) as unreadable:
        run(make_cfg("train.total_env_steps=2000", "resume=true", *common), split, compiled)
    message = str(unreadable.value)
    assert "\n" not in message and message.startswith(f"no readable checkpoint in {split / 'checkpoints'} (4: ")


def test_resume_with_other_shapes_names_each_differing_key(compiled, tmp_path, capsys):
    """resume=true with overrides that change the state's shapes: one line naming each differing key with the
    saved and the requested value, before anything compiles."""
    run_dir = tmp_path / "run"
    run(make_cfg("train.total_env_steps=400", "checkpoint.every_env_steps=400"), run_dir, compiled)
    changed = ("train.num_envs=8", "agent.latent_dim=16")
    assert _cli(*changed, f"run_dir={run_dir}", "resume=true", "train.total_env_steps=800") == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: resume=true with settings that change the training state's shapes: ")
    assert "train.num_envs saved 4, requested 8" in line and "agent.latent_dim saved 32, requested 16" in line
    assert str(run_dir / "config.yaml") in line
    assert compile_run(make_cfg(*changed)).compile_seconds == {}, "it compiled before reporting"


def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_previous_checkpoint(compiled, tmp_path, capsys):
    """No space left while writing checkpoint 2 (an ENOSPC where orbax writes): one line naming the path, the bytes
    needed and free, exit status 4; checkpoint 1 is kept and no partial folder is left; once the disk has space,
    resume=true finishes with the uninterrupted run's metrics."""
    common = ("train.total_env_steps=1200", "eval.every_env_steps=800", "checkpoint.every_env_steps=400")
    whole = run(make_cfg(*common), tmp_path / "whole", compiled)
    run_dir = tmp_path / "full"
    write_text = async_path.write_text

    async def full_disk(path, text):
        if ".orbax-checkpoint-tmp" in str(path) and "/2." in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return await write_text(path, text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(async_path, "write_text", full_disk)
        assert _cli(*common, f"run_dir={run_dir}") == faults.DiskFullError.exit_code == 4
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: no space left on device writing checkpoint 2 to {run_dir / 'checkpoints'} (")
    assert "it needs about " in line and " free); checkpoint 1 is kept" in line and "resume=true" in line
    assert Checkpointer(run_dir).latest_step() == 1
    assert [p.name for p in (run_dir / "checkpoints").iterdir() if "tmp" in p.name] == []

    assert main([*BASE, *common, f"run_dir={run_dir}", "resume=true"]) == 0
    assert _logged(run_dir) == _results(whole.records)


def test_a_state_larger_than_the_device_is_one_line_before_compiling(tmp_path, monkeypatch, capsys):
    """With a (fake) device memory of 1 MiB the training state (replay of 40k transitions) cannot fit: one line
    with the estimate and the device's memory, exit status 2, and nothing compiled."""
    monkeypatch.setattr(memory, "device_bytes_limit", lambda device: 1 << 20)
    overrides = ("train.replay_capacity=40004",)  # the shared shapes but one: a program of its own
    assert _cli(*overrides, f"run_dir={tmp_path / 'run'}") == 2
    line = _one_error_line(capsys.readouterr().err)
    compiled = compile_run(make_cfg(*overrides))
    need = memory.state_bytes(compiled.abstract_state)
    leaves = jax.tree.leaves(compiled.abstract_state)
    assert need.replay > 1 << 20 and need.total == sum(x.size * x.dtype.itemsize for x in leaves)
    assert line.startswith(f"error: the training state needs {faults.size(need.total)} per device (replay ")
    assert f"but {jax.local_devices()[0]} has 1.0 MiB;" in line
    assert compiled.compile_seconds == {}, "it compiled before reporting"


def test_a_removal_cut_short_leaves_only_complete_checkpoints(tmp_path, monkeypatch, caplog):
    """keep=2: the third save renames checkpoint 1 into checkpoints/.deleted before removing it. With the removal
    cut short there (as by a SIGKILL), the checkpoints are 2 and 3, whole; with a save's temporary folder left too,
    opening them again, restoring and saving that step warn of nothing, and the save empties .deleted."""
    import mjx_iqrl.checkpoint as checkpoint_module
    from mjx_iqrl.agent import PolicyParams

    state = {"x": jnp.arange(4.0)}
    policy = PolicyParams(encoder={"w": jnp.ones((2, 2))}, actor={"w": jnp.zeros((2,))})
    checkpointer = Checkpointer(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_module.shutil, "rmtree", lambda *args, **kwargs: None)  # killed mid-removal
        for step in (1, 2, 3):
            checkpointer.save(step, state, policy, {"step": step})
    checkpointer.close()
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [".deleted", "2", "3"]
    assert [p.name for p in (folder / ".deleted").iterdir()] == ["1"]
    assert all((folder / step / "_CHECKPOINT_METADATA").is_file() for step in ("2", "3"))

    # A save of step 4 cut short by the same kill leaves its temporary folder.
    (folder / "4.orbax-checkpoint-tmp" / "state").mkdir(parents=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        reopened = Checkpointer(tmp_path)
        restored, meta = reopened.restore(jax.eval_shape(lambda: state))
        reopened.save(4, state, policy, {"step": 4})
        reopened.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert meta == {"step": 3} and restored["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sorted(p.name for p in folder.iterdir()) == ["3", "4"]


def test_disk_full_and_lost_processes_are_recognised_in_the_forms_libraries_raise():
    """The OS's ENOSPC, tensorstore's RESOURCE_EXHAUSTED text, a chained cause; XLA's out-of-memory is not a full
    disk; gloo's closed connection is a lost process."""
    assert faults.is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    tensorstore = ValueError('RESOURCE_EXHAUSTED: Error writing local file "/x/d/1": [OS error 28: No space left]')
    assert faults.is_disk_full(tensorstore)
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as cause:
            raise RuntimeError("save failed") from cause
    except RuntimeError as chained:
        assert faults.is_disk_full(chained)
    oom = RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 12.00GiB")
    assert faults.is_device_out_of_memory(oom) and not faults.is_disk_full(oom)
    lost = RuntimeError("UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer [127.0.0.1]:4")
    assert faults.is_process_lost(lost) and not faults.is_process_lost(ValueError("shapes differ"))


def test_cluster_values_come_from_the_config_then_the_environment():
    environ = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}
    assert tuple(cluster_spec(MultihostOptions(), environ)) == ("10.0.0.1:1234", 4, 3)
    assert tuple(cluster_spec(MultihostOptions(process_id=1), environ)) == ("10.0.0.1:1234", 4, 1)
    assert tuple(cluster_spec(MultihostOptions(), {})) == (None, None, None)
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES='two' must be a non-negative integer"):
        cluster_spec(MultihostOptions(), {"JAX_NUM_PROCESSES": "two"})
