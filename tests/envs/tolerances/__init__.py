"""Fidelity tolerances per domain: each module `<domain>.py` defines `TOLERANCES: dict[task, dict[str, float]]`.

Keys: `copied` (observation, one step after copying dm_control's state), `copied_reward` (reward there),
`trajectory` (largest observation difference over the free-running rollout) and `reward` (largest reward difference
over it), and optionally `constant_spread` (the spread, over initial states, allowed in an observation dimension
that dm_control's float64 holds constant, on top of 1e-6 of its magnitude; default 5e-6). Each module records the errors
measured when the values were set.
"""

from __future__ import annotations

import importlib
import pkgutil

KEYS = {"copied", "copied_reward", "trajectory", "reward"}
OPTIONAL_KEYS = {"constant_spread"}


def load() -> dict[str, dict[str, float]]:
    """All domains' tolerances, merged into one task -> tolerances mapping."""
    merged: dict[str, dict[str, float]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for task, values in module.TOLERANCES.items():
            assert KEYS <= set(values) <= KEYS | OPTIONAL_KEYS, (
                f"{info.name}: {task} needs {sorted(KEYS)}, and may have {sorted(OPTIONAL_KEYS)}"
            )
            assert task not in merged, f"{task} has tolerances in two modules"
            merged[task] = values
    return merged
