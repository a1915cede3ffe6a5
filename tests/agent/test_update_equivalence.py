"""The update keeps the paper protocol's numbers: a few updates from fixed parameters on a fixed batch give the
metrics and parameters recorded in tests/fixtures/update_reference.npz (written by make_update_reference.py with
the update as it was before its cost was cut), to float32 tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import make_update_reference as reference

FIXTURE = Path(reference.__file__).with_name("update_reference.npz")


@pytest.fixture(scope="module")
def recorded():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def rerun():
    agent, state, batch, key = reference.make_inputs()
    metrics, final = reference.run_updates(agent, state, batch, key)
    return metrics, reference.flat_state(final)


@pytest.mark.unoptimized
def test_metrics_of_every_update_are_the_recorded_ones(recorded, rerun):
    metrics, _ = rerun
    names = {k.split("/")[2] for k in recorded if k.startswith("metric/0/")}
    assert names <= set(metrics[0]), "a metric of the update is gone"
    for i, m in enumerate(metrics):
        for name, value in ((n, v) for n, v in m.items() if n in names):
            np.testing.assert_allclose(value, recorded[f"metric/{i}/{name}"], rtol=2e-5, atol=1e-6, err_msg=name)


@pytest.mark.unoptimized
def test_parameters_after_the_updates_are_the_recorded_ones(recorded, rerun):
    _, state = rerun
    kept = {k.removeprefix("state/"): v for k, v in recorded.items() if k.startswith("state/")}
    assert set(kept) <= set(state)
    for name, value in kept.items():
        np.testing.assert_allclose(state[name], value, rtol=2e-5, atol=2e-6, err_msg=name)
    assert any("critic" in k for k in kept) and any("target_encoder" in k for k in kept)
