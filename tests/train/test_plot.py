"""`python -m mjx_iqrl.plot` on committed tiny runs (two configurations of two seeds each, one as two single-seed
runs in a multirun folder, one as a `num_seeds=2` run): grouping, IQM, thresholds by hand; the PNG; bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mjx_iqrl import curves, plot

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def test_runs_that_differ_only_in_seed_are_one_configuration():
    groups = plot.load_groups([RUNS / "sweep", RUNS / "seeds_b"])
    assert [len(g.runs) for g in groups] == [2, 1] and [g.seeds for g in groups] == [2, 2]
    assert curves.labels(groups) == ["agent.latent_dim=32 [2 seeds]", "agent.latent_dim=64 [2 seeds]"]
    a, b = groups
    # A: seeds (10, 400, 600) and (20, 600, 900); the IQM of two values is their mean (nothing is trimmed).
    assert [p["env_steps"] for p in a.points] == [0, 1000, 2000]
    assert [p["iqm"] for p in a.points] == [15.0, 500.0, 750.0]
    assert [p["train_s"] for p in a.points] == [0.0, 12.0, 25.0]  # mean of the runs' clocks
    assert [p["returns"] for p in b.points] == [[5, 15], [700, 900], [850, 950]]
    assert [p["iqm"] for p in b.points] == [10.0, 800.0, 900.0]
    assert all(p["iqm_ci_low"] <= p["iqm"] <= p["iqm_ci_high"] for g in groups for p in g.points)
    assert a.points[-1]["iqm_ci_low"] == 600.0 and a.points[-1]["iqm_ci_high"] == 900.0  # bootstrap of 2 values


def test_thresholds_and_table_by_hand(capsys, tmp_path):
    groups = plot.load_groups([RUNS / "sweep", RUNS / "seeds_b"])
    a, b = groups
    assert curves.time_to_reach(a.points, 500) == {
        "env_steps": 1000,
        "train_s": 12.0,
        "env_steps_ci": [1000, 2000],  # the CI's upper bound (600) reaches 500 at 1000, its lower (400..600) at 2000
        "train_s_ci": [12.0, 25.0],
    }
    assert curves.time_to_reach(a.points, 800) is None
    assert curves.time_to_reach(b.points, 800)["env_steps"] == 1000
    out = tmp_path / "fig.png"
    code = plot.main([str(RUNS / "sweep"), str(RUNS / "seeds_b"), "--out", str(out), "--anchors", "sac,tdmpc2"])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0 and out.stat().st_size > 10_000
    assert "750.0 [600.0, 900.0]" in printed[1] and "1000 / 12 s" in printed[1] and "not reached" in printed[1]
    assert "900.0 [850.0, 950.0]" in printed[2] and printed[2].count("1000 / 20 s") == 2


def test_dm_control_returns_are_read_where_the_runs_have_them(tmp_path):
    (a,) = plot.load_groups([RUNS / "sweep"])
    assert [r.dm_control for r in a.runs] == [[590.0], [880.0]]
    assert plot.main([str(RUNS / "sweep"), "--out", str(tmp_path / "d.png"), "--dm-control"]) == 0


@pytest.mark.parametrize(
    "args, fragment",
    [
        ([str(RUNS / "empty")], "holds no metrics.jsonl"),
        ([str(RUNS / "sweep"), str(RUNS / "walker")], "several tasks (cartpole-swingup, walker-walk); pass --allow"),
        ([str(RUNS / "sweep"), "--anchors", "sac,ppo"], "no published curves for 'ppo'"),
    ],
)
def test_bad_input_is_one_line(args, fragment, capsys, tmp_path):
    assert plot.main([*args, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_mixed_tasks_when_allowed(tmp_path):
    args = [str(RUNS / "sweep"), str(RUNS / "walker"), "--allow-mixed", "--anchors", "sac"]
    assert plot.main([*args, "--out", str(tmp_path / "m.png")]) == 0
