"""The efficiency benchmark end to end on a small configuration: it writes its JSON and its two-panel PNG."""

from __future__ import annotations

import json

from benchmarks import efficiency
from tests.train.conftest import BASE


def test_efficiency_benchmark_writes_json_and_png(compiled, tmp_path):
    """Two regimes of the shared test shapes: JSON with both curves and the two-panel PNG."""
    settings = [o for o in BASE if not o.startswith("task=")]
    args = ["--task", "cartpole-swingup", "--env-steps", "800", "--eval-every", "400", "--regimes", "paper"]
    efficiency.main([*args, "paper:seed=43", "--set", *settings, "--out-dir", str(tmp_path), "--name", "eff"])
    (result,) = tmp_path.glob("eff_*.json")
    assert result.with_suffix(".png").stat().st_size > 10_000
    data = json.loads(result.read_text())
    assert data["environment"]["device"] == "cpu" and data["environment"]["versions"]["jax"]
    assert [r["regime"] for r in data["results"]] == ["paper", "paper:seed=43"]
    for r in data["results"]:
        assert [p["env_steps"] for p in r["curve"]] == [0, 400, 800]
        assert r["compile_s"] >= 0 and r["train_s"] > 0 and r["env_steps"] == 800
        assert all(0 <= p["return"] <= 1000 for p in r["curve"])
        assert set(r["time_to"]) == {"500", "800"}
