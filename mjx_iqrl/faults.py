"""Faults a user can cause or meet, each one line that says what happened, what was kept and what to do.

A fault is a `Fault` with an exit status (bad input stays a `ConfigError`, exit status 2); the command line prints
its message and exits with its status. Low-level exceptions (the OS, orbax and tensorstore, XLA, the coordination
service) become faults here and nowhere else: the runner runs inside `translated()`, and the checkpointer writes
inside `checkpoint_write()`, which knows what a checkpoint needs and what it keeps.

Exit statuses: 2 bad input (`ConfigError`), 3 a non-finite loss, 4 no space left on device, 5 another process of a
multi-host run was lost, 75 stopped by a signal with a checkpoint (`Preempted`: continue with resume=true).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mjx_iqrl import schema
from mjx_iqrl.errors import ConfigError


class Fault(Exception):
    """A run stopped by something outside the program: its message is one line, `exit_code` the process status."""

    exit_code = 1
    label = "error"
    """What the command line prints before the message."""


class NonFiniteLossError(Fault):
    """A loss became NaN or infinite; the message names the loss and the update and env step."""

    exit_code = 3


class DiskFullError(Fault):
    """No space left on the device a run writes to; the message names the path, the bytes needed and free."""

    exit_code = 4


class ProcessLostError(Fault):
    """Another process of a multi-host run died or stopped answering."""

    exit_code = 5


class Preempted(Fault):
    """A stop signal ended the run at a chunk boundary, with a checkpoint to resume from."""

    exit_code = 75
    label = "stopped"


_WRITERS_TIMEOUT_S = 30.0
"""Longest wait for the threads of a save that failed for lack of space."""

_DISK_FULL_TEXT = ("no space left on device", "os error 28", "errno 28", "disk quota exceeded")
# What XLA's collectives (gloo's TCP pairs, NCCL) and JAX's coordination service say when a peer process is gone.
_PROCESS_LOST_TEXT = (
    "connection closed by peer",
    "connection reset by peer",
    "remote process exited",
    "heartbeat timeout",
    "distributed service detected fatal errors",
)


def _chain(err: BaseException) -> Iterator[BaseException]:
    """`err` and the exceptions it was raised from or while handling."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def is_disk_full(err: BaseException) -> bool:
    """Whether `err` (or what caused it) is the OS refusing a write for lack of space or quota."""
    for e in _chain(err):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(e).lower() for text in _DISK_FULL_TEXT):
            return True
    return False


def is_device_out_of_memory(err: BaseException) -> bool:
    """Whether `err` is XLA failing to allocate device memory."""
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text and "memory" in text.lower() and not is_disk_full(err)


def is_process_lost(err: BaseException) -> bool:
    """Whether `err` is a collective or the coordination service failing because another process went away."""
    return any(text in str(e).lower() for e in _chain(err) for text in _PROCESS_LOST_TEXT)


def first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name when it has none)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def reason(err: BaseException) -> str:
    """`Type: first line` of an exception, for messages that quote a cause."""
    return f"{type(err).__name__}: {first_line(err)}"


def size(nbytes: float) -> str:
    """Bytes in binary units: '512 B', '3.2 MiB', '12.0 GiB'."""
    if abs(nbytes) < 1024:
        return f"{nbytes:.0f} B"
    units = ("KiB", "MiB", "GiB", "TiB")
    power = min(len(units), int(math.log(abs(nbytes), 1024)))
    return f"{nbytes / 1024**power:.1f} {units[power - 1]}"


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (its nearest existing parent), or None if unknown."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def resume_mismatch(
    saved: Mapping[str, Any], requested: Mapping[str, Any], mismatch: Any, saved_file: Path
) -> ConfigError:
    """The one-line error of a resume whose settings change the training state's shapes: each setting that differs
    from the saved run's (`saved_file`), with both values; `mismatch` is the first differing state leaf."""
    old, new = schema.flatten(saved), schema.flatten(requested)
    keys = [k for k in new if k in old and old[k] != new[k]]
    if keys:
        changes = "; ".join(f"{k} saved {old[k]!r}, requested {new[k]!r}" for k in keys)
        what = f"{changes} (the saved settings are in {saved_file})"
    else:
        what = (
            f"{mismatch.leaf} of checkpoint {mismatch.step} has shape {mismatch.saved}, this configuration's "
            f"{mismatch.requested}"
        )
    return ConfigError(
        f"resume=true with settings that change the training state's shapes: {what}; resume with the saved values, "
        "or start a new run_dir"
    )


def _remove_partial(directory: Path, step: int, before: set[threading.Thread]) -> None:
    """Removes the partial folder of a failed save once its writers are done (bounded by _WRITERS_TIMEOUT_S)."""
    deadline = time.monotonic() + _WRITERS_TIMEOUT_S
    # The failed save's other writer threads are still running: they finish before the partial folder goes.
    for thread in set(threading.enumerate()) - before:
        threading.Thread.join(thread, max(0.0, deadline - time.monotonic()))  # not orbax's join, which re-raises
    # A writer of a pool that existed before the save may still add to it: remove until it stays gone.
    pattern = f"{step}.orbax-checkpoint-tmp*"
    while time.monotonic() < deadline:
        partial = list(directory.glob(pattern))
        for folder in partial:
            shutil.rmtree(folder, ignore_errors=True)
        if not partial:
            time.sleep(0.2)
            if not any(directory.glob(pattern)):
                return


@contextlib.contextmanager
def checkpoint_write(directory: Path, step: int, nbytes: int, kept: int | None) -> Iterator[None]:
    """Turns a full disk while writing checkpoint `step` (about `nbytes`) into a DiskFullError that says what is
    kept (checkpoint `kept`), after removing the partial checkpoint."""
    before = set(threading.enumerate())
    try:
        yield
    except Exception as err:
        if not is_disk_full(err):
            raise
        _remove_partial(directory, step, before)
        free = free_bytes(directory)
        kept_text = f"checkpoint {kept} is kept" if kept is not None else "no earlier checkpoint exists"
        raise DiskFullError(
            f"no space left on device writing checkpoint {step} to {directory} (it needs about {size(nbytes)}, "
            f"{size(free) if free is not None else 'an unknown amount'} free); {kept_text}: free some space, then "
            "continue with resume=true"
        ) from None


def _is_echo(err: BaseException | None) -> bool:
    """A failed write for lack of space, or tensorstore calling back into the event loop orbax closed after one."""
    if err is None:
        return False
    return is_disk_full(err) or (isinstance(err, RuntimeError) and str(err) == "Event loop is closed")


class _Echoes(logging.Filter):
    """Drops library log records that only repeat a full disk already reported in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for orbax's and asyncio's records of a failed write for lack of space."""
        error = record.exc_info[1] if record.exc_info else None
        return not (is_disk_full(Exception(record.getMessage())) or _is_echo(error))


def quiet_echoes() -> None:
    """Keeps the one line of a full disk alone on the console: drops orbax's (absl) and asyncio's logs of the failed
    writes, and what its writer threads and tensorstore's late callbacks raise about them. For the command line,
    whose process ends with the fault; it changes the process's logging, unraisable hook and thread excepthook."""
    for name in ("absl", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Echoes) for f in logger.filters):
            logger.addFilter(_Echoes())
    if getattr(sys.unraisablehook, "quiet_echoes", False):
        return
    unraisable_hook, thread_hook = sys.unraisablehook, threading.excepthook

    def unraisable(args: sys.UnraisableHookArgs) -> None:
        if not _is_echo(args.exc_value):
            unraisable_hook(args)

    def thread(args: threading.ExceptHookArgs) -> None:
        if not _is_echo(args.exc_value):
            thread_hook(args)

    unraisable.quiet_echoes = True  # type: ignore[attr-defined]
    sys.unraisablehook, threading.excepthook = unraisable, thread


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turns the low-level exceptions a run can meet into one-line faults; everything else passes unchanged."""
    try:
        yield
    except (Fault, ConfigError):
        raise
    except Exception as err:
        if is_disk_full(err):
            path = next((e.filename for e in _chain(err) if isinstance(e, OSError) and e.filename), None)
            where = f" writing {path}" if path else ""
            raise DiskFullError(
                f"no space left on device{where} ({first_line(err)}); the last checkpoint is kept: free some space, "
                "then continue with resume=true"
            ) from None
        if is_device_out_of_memory(err):
            raise ConfigError(
                f"the device ran out of memory ({first_line(err)}); reduce train.replay_capacity, train.num_envs, "
                "train.batch_size or num_seeds, or use more devices"
            ) from None
        if is_process_lost(err):
            raise ProcessLostError(
                f"another process of this multi-host run was lost ({first_line(err)}); the last checkpoint is kept: "
                "start every process again with resume=true"
            ) from None
        raise
