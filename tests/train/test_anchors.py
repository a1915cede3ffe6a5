"""The published-curve reader (`mjx_iqrl.anchors`) and the suite's comparisons, by hand, and on the shipped data."""

from __future__ import annotations

import pytest

from benchmarks import suite
from mjx_iqrl import anchors
from mjx_iqrl.errors import ConfigError


@pytest.fixture
def root(tmp_path):
    """Two algorithms on a 100k grid; seed 2 of `b` lacks its 200k point."""
    (tmp_path / "a.csv").write_text(
        "task,env_steps,seed,return\n"
        "walker-walk,0,1,10\nwalker-walk,100000,1,500\nwalker-walk,200000,1,900\n"
        "walker-walk,0,2,30\nwalker-walk,100000,2,700\nwalker-walk,200000,2,800\n"
    )
    (tmp_path / "b.csv").write_text(
        "task,env_steps,seed,return\n"
        "walker-walk,0,1,0\nwalker-walk,100000,1,200\nwalker-walk,200000,1,400\n"
        "walker-walk,0,2,0\nwalker-walk,100000,2,100\ncheetah-run,100000,1,300\n"
    )
    return tmp_path


def test_means_and_seeds_at_grid_points_and_between(root):
    assert anchors.algorithms(root) == ["a", "b"]
    assert anchors.at("a", "walker-walk", 100_000, root) == (600.0, {1: 500.0, 2: 700.0})
    # 50k: seed 1 halfway between 10 and 500, seed 2 between 30 and 700.
    point = anchors.at("a", "walker-walk", 50_000, root)
    assert point.per_seed == {1: 255.0, 2: 365.0} and point.mean == 310.0
    # 150k: seed 2 of b ends at 100k, so only seed 1 (300) counts.
    assert anchors.at("b", "walker-walk", 150_000, root) == (300.0, {1: 300.0})
    assert anchors.at("a", "walker-walk", 250_000, root) is None
    assert anchors.at("a", "cheetah-run", 100_000, root) is None


def test_mean_curve_ends_at_the_requested_step(root):
    steps, means = anchors.mean_curve("a", "walker-walk", 150_000, root)
    assert steps.tolist() == [0, 100_000, 150_000] and means.tolist() == [20.0, 600.0, (700 + 750) / 2]
    assert [len(x) for x in anchors.mean_curve("a", "cheetah-run", 1e6, root)] == [0, 0]


def test_unknown_algorithm_is_one_line(root):
    with pytest.raises(ConfigError, match=r"no published curves for 'ppo' .*\(known: a, b\)"):
        anchors.at("ppo", "walker-walk", 0, root)


def test_shipped_curves_give_the_published_means():
    """The means at 100k env steps that the suite compares with (SAC / TD-MPC2), from the shipped extract."""
    expect = {"cartpole-swingup": (835, 839), "cup-catch": (958, 981), "finger-spin": (762, 948)}
    expect |= {"walker-walk": (708, 962), "cheetah-run": (310, 519)}
    for task, (sac, tdmpc2) in expect.items():
        assert round(anchors.at("sac", task, 100_000).mean) == sac
        assert round(anchors.at("tdmpc2", task, 100_000).mean) == tdmpc2
        assert len(anchors.at("tdmpc2", task, 100_000).per_seed) == 3
    assert set(anchors.algorithms()) == {"tdmpc2", "sac", "dreamerv3", "tdmpc", "iqrl"}
    assert anchors.curve("iqrl", "dog-run") is not None and anchors.curve("iqrl", "walker-walk") is None


def _row(task, regime, final_iqm, steps=100_000, dm=None, physics="dmc"):
    return {
        "task": task,
        "regime": regime,
        "env_steps": steps,
        "physics": physics,
        "curve": [{"env_steps": 0, "iqm": 0.0}, {"env_steps": steps, "iqm": final_iqm}],
        "final": {"iqm": final_iqm},
        "dm_control": None if dm is None else {"iqm": dm},
        "transfer_gap": None if dm is None else dm - final_iqm,
    }


def test_suite_comparisons_and_aggregate_by_hand(root):
    rows = [_row("walker-walk", "paper", 660.0, dm=650.0), _row("cheetah-run", "paper", 150.0, dm=170.0)]
    for row in rows:
        row["published"] = suite.published(row, ["a", "b"], root)
    walker = rows[0]["published"]
    assert walker["a"]["curve"] == [{"env_steps": 0, "mean": 20.0}, {"env_steps": 100_000, "mean": 600.0}]
    assert walker["a"]["final"]["ratio"] == pytest.approx(1.1) and walker["a"]["final"]["at_or_above"]
    assert walker["b"]["final"]["mean"] == 150.0 and walker["b"]["final"]["ratio"] == pytest.approx(4.4)
    assert rows[1]["published"]["a"]["final"] is None  # a has no cheetah-run
    agg = suite.aggregate(rows, ["a", "b"])["paper"]
    assert agg["vs"]["a"] == {
        "tasks": ["walker-walk"],
        "ratio_mean": pytest.approx(1.1),
        "ratio_iqm": pytest.approx(1.1),
        "at_or_above": 1,
        "mean_return": 660.0,
        "published_mean_return": 600.0,
        "mean_return_ratio": pytest.approx(1.1),
    }
    # b: walker 660/150 = 4.4, cheetah 150/300 = 0.5; mean return (660 + 150) / 2 against (150 + 300) / 2.
    vs_b = agg["vs"]["b"]
    assert vs_b["ratio_mean"] == pytest.approx(2.45) and vs_b["at_or_above"] == 1
    assert vs_b["mean_return_ratio"] == pytest.approx(405 / 225)
    assert agg["transfer_gap_mean"] == {"dmc": pytest.approx(5.0)}


def test_task_groups():
    assert suite.expand_tasks(["cpu-suite"])[:2] == ["cartpole-swingup", "reacher-easy"]
    assert len(suite.expand_tasks(["dmc-hard"])) == 7
    assert "walker-walk" in suite.expand_tasks(["dmc-easy"]) and "walker-run" in suite.expand_tasks(["dmc-medium"])
    assert suite.expand_tasks(["walker-walk", "dmc-easy"]).count("walker-walk") == 1
    with pytest.raises(SystemExit, match=r"--tasks: .*groups: all, cpu-suite"):
        suite.expand_tasks(["walker-sprint"])
