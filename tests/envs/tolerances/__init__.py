"""Fidelity tolerances per domain: each module `<domain>.py` defines `TOLERANCES: dict[task, dict[str, float]]`.

Keys: `copied` (observation, one step after copying dm_control's state), `copied_reward` (reward there),
`trajectory` (largest observation difference over the free-running rollout) and `reward` (largest reward difference
over it), and optionally `constant_spread` (the spread, over initial states, allowed in an observation dimension
that dm_control's float64 holds constant, on top of 1e-6 of its magnitude; `DEFAULTS` gives it where a module does
not). Each module records the errors measured when the values were set.
"""

from __future__ import annotations

import importlib
import pkgutil

KEYS = {"copied", "copied_reward", "trajectory", "reward"}
# Quadruped's float32 sensor rounding, about 2e-6, with margin.
DEFAULTS = {"constant_spread": 5e-6}


def load() -> dict[str, dict[str, float]]:
    """All domains' tolerances, merged into one task -> tolerances mapping."""
    merged: dict[str, dict[str, float]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for task, values in module.TOLERANCES.items():
            assert KEYS <= set(values) <= KEYS | set(DEFAULTS), (
                f"{info.name}: {task} needs {sorted(KEYS)}, and may have {sorted(DEFAULTS)}"
            )
            assert task not in merged, f"{task} has tolerances in two modules"
            merged[task] = {**DEFAULTS, **values}
    return merged
