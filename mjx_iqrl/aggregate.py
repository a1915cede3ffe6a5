"""Aggregates over seeds, as the field reports them: mean and interquartile mean (IQM) with stratified-bootstrap
95% confidence intervals (rliable, Agarwal et al. 2021)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

# Bootstrap resamples for the confidence intervals.
BOOTSTRAP_REPS = 2000


def summarize(
    values: Any, prefix: str, bootstrap: bool = True, reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> dict[str, Any]:
    """`{prefix}` (mean over seeds); for 2+ seeds also `{prefix}/per_seed` and, with `bootstrap`, `{prefix}/iqm`
    and the 95% confidence intervals of mean and IQM."""
    values = np.asarray(values, np.float64).reshape(-1)
    out: dict[str, Any] = {prefix: float(values.mean())}
    if values.size < 2:
        return out
    out[f"{prefix}/per_seed"] = values.tolist()
    if not bootstrap:
        return out
    from rliable import library as rly
    from rliable import metrics

    def aggregates(scores: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(scores), metrics.aggregate_iqm(scores)])

    # rliable's stratified bootstrap draws from NumPy's global generator: seed it here, then restore the caller's.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            # rliable passes arch's bootstrap a RandomState, which arch 7 deprecates (nothing a user can change).
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning, r"arch\.")
            point, interval = rly.get_interval_estimates(
                {"x": values[:, None]}, aggregates, reps=reps, random_state=np.random.RandomState(seed)
            )
    finally:
        np.random.set_state(saved)
    (low_mean, low_iqm), (high_mean, high_iqm) = interval["x"]
    out[f"{prefix}/iqm"] = float(point["x"][1])
    out[f"{prefix}/ci_low"], out[f"{prefix}/ci_high"] = float(low_mean), float(high_mean)
    out[f"{prefix}/iqm_ci_low"], out[f"{prefix}/iqm_ci_high"] = float(low_iqm), float(high_iqm)
    return out
