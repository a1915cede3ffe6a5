"""Stopping at a chunk boundary: on SIGTERM, SIGINT or SIGUSR1 a run finishes the chunk in progress, writes a
checkpoint and exits with `faults.Preempted.exit_code` (75), so a preempted job loses nothing and continues with
`resume=true`.

SIGTERM is what SLURM, Kubernetes and most schedulers send before they kill, SIGINT is Ctrl-C, and SIGUSR1 is what
`sbatch --signal=USR1@<seconds>` sends ahead of a time limit. The handler only records the signal: the chunk
running on the device, and a checkpoint being written, are never interrupted, and a second signal changes
nothing. In a multi-host run the processes agree at every chunk boundary (`distributed.any_process`), so a signal
that reaches any process stops all of them at the same chunk. Handlers are installed only in the main thread, and
the previous ones are back when the run returns.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType

from mjx_iqrl import distributed

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
"""The signals that stop a run at the next chunk boundary."""


class StopSignals:
    """A context that records the stop signals while a run trains; `requested()` says whether one came."""

    def __init__(self) -> None:
        self.received: str | None = None
        """Name of the first stop signal received, if any."""
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            # A handler installed outside Python (None here) cannot be put back; the default takes its place.
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = name
            message = f"got {name}: stopping after the current chunk, with a checkpoint"
        else:
            message = f"got {name} again: the run stops as soon as its checkpoint is complete"
        if distributed.is_primary():
            print(f"mjx_iqrl: {message}", file=sys.stderr, flush=True)

    def requested(self) -> bool:
        """Whether a stop signal reached this process or, in a multi-host run, any process (a collective)."""
        return distributed.any_process(self.received is not None)
