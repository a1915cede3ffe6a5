"""The benchmarks end to end at tiny sizes: efficiency and frontier write their JSON and PNG, the GPU report's smoke
run covers every part; the frontier's Pareto arithmetic by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import compile_cost, efficiency, frontier, gpu_report, policy_behaviour, suite, update_cost
from benchmarks import regimes as regimes_module
from benchmarks.regimes import Budget, baseline_config, parse_regime, time_to_reach
from benchmarks.report_parts import SMOKE_TRAINING
from mjx_iqrl import anchors
from mjx_iqrl.curves import seconds_to_reach_per_seed
from mjx_iqrl.eval_episodes import dm_control_returns
from tests.train.conftest import BASE

SETTINGS = [o for o in BASE if not o.startswith("task=")]
# The frontier smoke trains the GPU report smoke's program (pendulum, small networks), which that test then reuses.
SMOKE_TASK = "pendulum-swingup"


def test_efficiency_benchmark_writes_json_and_png(compiled, tmp_path, capsys):
    """Two regimes of the shared test shapes (their programs are the shared compiled run's): JSON with both
    curves and the two-panel PNG; the same two seeds trained apart in one regime, then continued from the kept
    run folders."""
    args = ["--task", "cartpole-swingup", "--env-steps", "800", "--eval-every", "400", "--regimes", "paper"]
    path = efficiency.main([*args, "paper:seed=43", "--set", *SETTINGS, "--out-dir", str(tmp_path), "--name", "eff"])
    assert path.with_suffix(".png").stat().st_size > 10_000
    data = json.loads(path.read_text())
    assert data["environment"]["device"] == "cpu" and data["environment"]["versions"]["jax"]
    assert [r["regime"] for r in data["results"]] == ["paper", "paper:seed=43"]
    assert data["results"][1]["compile_s"] == 0.0, "another seed of the same program was compiled again"
    for r in data["results"]:
        assert [p["env_steps"] for p in r["curve"]] == [0, 400, 800]
        assert r["train_s"] > 0 and r["env_steps"] == 800
        assert all(0 <= p["iqm"] <= 1000 for p in r["curve"])
        assert set(r["time_to"]) == {"500", "800"}

    # The same two seeds trained apart in one regime: the same program, and each seed's returns are its own run's.
    apart = ["--seeds", "2", "--separate-seeds", "--thresholds", "0", "900", "--out-dir", str(tmp_path)]
    kept = ["--runs-dir", str(tmp_path / "runs"), "--checkpoint-every", "400"]
    together = efficiency.main([*args, "--set", *SETTINGS, *apart, *kept, "--name", "apart"])
    row = json.loads(together.read_text())["results"][0]
    # Run again over the kept run folders, both seeds continue from their final checkpoints: the same row.
    capsys.readouterr()
    again = json.loads(efficiency.main([*args, "--set", *SETTINGS, *apart, *kept, "--name", "again"]).read_text())
    assert capsys.readouterr().out.count("resuming cartpole-swingup paper from its checkpoint") == 2
    assert [p["returns"] for p in again["results"][0]["curve"]] == [p["returns"] for p in row["curve"]]
    assert row["compile_s"] == 0.0 and row["separate_seeds"] and row["seeds"] == 2
    returns = [[p["returns"][0] for p in r["curve"]] for r in data["results"]]
    assert [[p["returns"][i] for p in row["curve"]] for i in range(2)] == returns
    assert all(len(p["train_s_per_seed"]) == 2 for p in row["curve"])
    assert [s["env_steps"] for s in row["time_to_per_seed"]["0"]["per_seed"]] == [0, 0]
    assert row["time_to_per_seed"]["900"]["reached"] == 0


@pytest.mark.unoptimized
def test_frontier_smoke_writes_json_png_and_the_pareto_front(tmp_path):
    """Two tiny regimes (two seeds of one program: the second regime compiles nothing) with two vmapped seeds each
    for a few hundred env steps, and one dm_control episode per seed: every per-regime figure is present and the
    three-panel PNG is written."""
    args = ["--task", SMOKE_TASK, "--env-steps", "800", "--eval-every", "400", "--seeds", "2"]
    regimes = ["--regimes", "paper", "paper:seed=7", "--thresholds", "0", "5000"]
    path = frontier.main(
        [*args, *regimes, "--dm-control-episodes", "1", "--set", *SMOKE_TRAINING, "--out-dir", str(tmp_path)]
    )
    assert path.with_suffix(".png").stat().st_size > 10_000
    data = json.loads(path.read_text())
    rows = data["results"]
    assert [r["regime"] for r in rows] == ["paper", "paper:seed=7"]
    assert rows[1]["compile_s"] == 0.0, "another seed of the same program was compiled again"
    for r in rows:
        assert r["seeds"] == 2 and r["env_steps"] == 800 and r["train_s"] > 0
        assert [len(p["returns"]) for p in r["curve"]] == [2, 2, 2]
        assert all(p["iqm_ci_low"] <= p["iqm"] <= p["iqm_ci_high"] for p in r["curve"])
        assert r["time_to"]["0"]["env_steps"] == 0 and r["time_to"]["5000"] is None
        assert r["env_steps_per_s"] > 0 and r["updates_per_s"] > 0
        # 200 updates at batch 16 over 400 transitions per seed (800 env steps, action repeat 2): replay ratio 8.
        assert r["replay_ratio"] == 8.0
        assert len(r["dm_control"]["per_seed"]) == 2 and 0 <= r["dm_control"]["iqm"] <= 1000
    assert rows[0]["compile_s"] > 0 and rows[0]["curve"][-1]["returns"] != rows[1]["curve"][-1]["returns"]
    assert data["frontier"]["threshold"] == 0 and set(data["frontier"]["pareto"]) <= {r["regime"] for r in rows}


@pytest.mark.unoptimized
def test_suite_smoke_writes_rows_published_comparisons_and_resumes(tmp_path):
    """One task of the frontier smoke's program (compiled once for both), two vmapped seeds: the row holds the IQM
    curve, the dm_control transfer gap and every published algorithm's mean at its evaluation steps; a second call
    with --resume trains nothing, and with the row gone it resumes the run from its final checkpoint."""
    out, runs = tmp_path / "results", tmp_path / "runs"
    args = ["--tasks", SMOKE_TASK, "--seeds", "2", "--env-steps", "800", "--eval-every", "400"]
    args += ["--checkpoint-every", "400", "--dm-control-episodes", "1", "--set", *SMOKE_TRAINING]
    args += ["--out-dir", str(out), "--runs-dir", str(runs), "--name", "s"]
    path = suite.main(args)
    assert path.with_suffix(".png").stat().st_size > 10_000
    data = json.loads(path.read_text())
    (row,) = data["results"]
    assert (row["task"], row["regime"], row["seeds"], row["env_steps"]) == (SMOKE_TASK, "paper", 2, 800)
    assert [p["env_steps"] for p in row["curve"]] == [0, 400, 800] and row["train_s"] > 0
    assert row["transfer_gap"] == pytest.approx(row["dm_control"]["iqm"] - row["final"]["iqm"])
    assert data["config"]["anchors"] == anchors.algorithms()
    for algo in ("sac", "tdmpc2"):
        final = row["published"][algo]["final"]
        assert final["mean"] == pytest.approx(anchors.at(algo, SMOKE_TASK, 800).mean)
        assert final["ratio"] == pytest.approx(row["final"]["iqm"] / final["mean"])
        assert [p["env_steps"] for p in row["published"][algo]["curve"]] == [0, 400, 800]
    assert row["published"]["iqrl"]["final"] is None  # the authors' curves are dog and humanoid only
    assert data["aggregate"]["paper"]["vs"]["sac"]["tasks"] == [SMOKE_TASK]
    table = suite.markdown(data).splitlines()
    assert table[2].startswith(f"| {SMOKE_TASK} | paper | 2 | 0.8k |") and "| paper | SAC | 1 |" in "\n".join(table)

    with pytest.raises(SystemExit, match="pass --resume"):
        suite.main(args)
    assert json.loads(suite.main([*args, "--resume"]).read_text())["results"][0]["curve"] == row["curve"]
    path.unlink()
    resumed = json.loads(suite.main([*args, "--resume"]).read_text())["results"][0]
    assert resumed["curve"] == row["curve"] and resumed["train_s"] == row["train_s"]


@pytest.mark.unoptimized
def test_update_cost_smoke_reports_flops_parts_and_hlo(tmp_path):
    """The cost benchmark at a tiny size: XLA's FLOPs of an update, the achieved fraction of a measured matmul
    peak, every part timed, and the compiled update's HLO counts."""
    args = ["--sizes", "tiny", "--batch-sizes", "16", "--updates-per-call", "2", "--repeats", "1"]
    payload = update_cost.main([*args, "--peak-n", "128", "--task", SMOKE_TASK, "--out-dir", str(tmp_path)])
    (row,) = payload["results"]
    assert row["flops"] > 0 and 0 < row["fraction_of_peak"] < 1 and payload["peak"]["flops_per_s"] > 0
    parts = {"sample", "world_model", "rl_inputs", "critic", "actor", "update", "update_loop"}
    assert set(row["parts_ms"]) == parts and all(v > 0 for v in row["parts_ms"].values())
    assert row["hlo"]["fusions"] > 0 and row["hlo"]["instructions"] >= row["hlo"]["entry_instructions"] > 0
    assert (tmp_path / "update_cost_cpu.json").is_file()


@pytest.mark.slow
@pytest.mark.unoptimized
def test_compile_cost_smoke_times_both_builds_of_a_one_seed_program(tmp_path):
    """The build-cost benchmark at a tiny size, one round: both variants' trace, lower and compile seconds, and
    their ratios from the medians."""
    tiny = ["agent.latent_dim=8", "agent.mlp_dims=[16]", "agent.enc_mlp_dims=[16]", "train.num_envs=2"]
    path = compile_cost.main(["--task", SMOKE_TASK, "--rounds", "1", "--set", *tiny, "--out-dir", str(tmp_path)])
    data = json.loads(path.read_text())
    assert set(data["rounds"]) == {"one_seed", "vmapped"} and all(len(r) == 1 for r in data["rounds"].values())
    for rows in data["rounds"].values():
        assert all(v > 0 for v in rows[0].values())
        assert rows[0]["total_s"] == pytest.approx(sum(v for k, v in rows[0].items() if k != "total_s"))
    one, vmapped = data["median_s"]["one_seed"], data["median_s"]["vmapped"]
    ratio = data["ratio_one_seed_to_vmapped"]["chunk_lower_s"]
    assert ratio == pytest.approx(one["chunk_lower_s"] / vmapped["chunk_lower_s"])


def test_regime_row_by_hand():
    """Replay ratio (updates x batch / transitions stored per seed), rates and the final IQM of one regime's row."""
    curve = [
        {"env_steps": 0, "train_s": 0.0, "returns": [1.0, 3.0]},
        {"env_steps": 800, "train_s": 4.0, "returns": [10.0, 30.0]},
    ]
    settings = {"batch_size": 16, "action_repeat": 2, "num_envs": 4}
    runs = regimes_module.SeedRuns(curve, 5.0, 4.0, 800, 100, [], settings)
    row = regimes_module.summarise(parse_regime("paper:train.utd_ratio=0.5"), runs, 2, [20.0], None)
    # 100 updates x batch 16 over 800 / 2 = 400 transitions: 4; 800 env steps x 2 seeds in 4 s: 400 per second.
    assert row["replay_ratio"] == 4.0 and row["env_steps_per_s"] == 400.0 and row["updates_per_s"] == 50.0
    assert row["final"]["mean"] == 20.0 and row["final_per_seed"] == [10.0, 30.0] and row["compile_s"] == 5.0
    assert row["time_to"]["20"]["env_steps"] == 800


def test_policy_behaviour_plays_the_episode_the_evaluation_plays():
    """The probe's dm_control episode is the evaluation's: same policy and seed, same return; the velocity recorded
    is the named joint's (an energy-pumping policy spins the pendulum up, one way round)."""

    def pump(obs: np.ndarray) -> np.ndarray:
        return np.sign(obs[:, 2:3]) + (obs[:, 2:3] == 0)  # torque along the hinge's velocity

    rewards, velocity = policy_behaviour.play(pump, "pendulum-swingup", 3, 2, "hinge")
    assert len(rewards) == len(velocity) == 1000
    assert rewards.sum() > 0 and velocity[0] > 0 and velocity.min() > 0 and velocity.max() > 5
    assert rewards.sum() == pytest.approx(dm_control_returns(pump, "pendulum-swingup", 1, 3, 2)[0])


def test_pareto_front_by_hand():
    points = {"a": (100, 50.0), "b": (200, 20.0), "c": (300, 30.0), "d": (100, 60.0), "e": (50, 500.0)}
    # c is beaten by b (fewer steps, fewer seconds); d by a; a, b and e trade steps for seconds.
    assert frontier.pareto(points) == ["e", "a", "b"]


def test_time_to_threshold_uses_the_iqm_and_its_interval():
    curve = [
        {"env_steps": 0, "train_s": 0.0, "iqm": 10.0, "iqm_ci_low": 5.0, "iqm_ci_high": 20.0},
        {"env_steps": 10, "train_s": 1.0, "iqm": 90.0, "iqm_ci_low": 40.0, "iqm_ci_high": 120.0},
        {"env_steps": 20, "train_s": 2.0, "iqm": 110.0, "iqm_ci_low": 60.0, "iqm_ci_high": 130.0},
    ]
    assert time_to_reach(curve, 100.0) == {
        "env_steps": 20,
        "train_s": 2.0,
        "env_steps_ci": [10, None],
        "train_s_ci": [1.0, None],
    }
    assert time_to_reach(curve, 200.0) is None


def test_seeds_trained_apart_keep_their_own_clocks_and_times_by_hand():
    """Two seeds' curves aligned to the shorter; each seed's time to a return is on its own clock, and the IQM of
    those times comes once every seed got there (of two seeds, the IQM is their mean)."""
    fast = [{"env_steps": 0, "train_s": 0.0, "return": 10.0}, {"env_steps": 10, "train_s": 2.0, "return": 600.0}]
    slow = [
        {"env_steps": 0, "train_s": 0.0, "return": 20.0},
        {"env_steps": 10, "train_s": 6.0, "return": 300.0},
        {"env_steps": 20, "train_s": 12.0, "return": 700.0},
    ]
    curve = regimes_module.align_seeds([fast, slow])
    assert curve == [
        {"env_steps": 0, "train_s": 0.0, "train_s_per_seed": [0.0, 0.0], "returns": [10.0, 20.0]},
        {"env_steps": 10, "train_s": 4.0, "train_s_per_seed": [2.0, 6.0], "returns": [600.0, 300.0]},
    ]
    assert seconds_to_reach_per_seed(curve, 500.0) == {
        "per_seed": [{"env_steps": 10, "train_s": 2.0}, None],
        "reached": 1,
        "seeds": 2,
        "train_s_iqm": None,
        "train_s_iqm_ci": None,
    }
    both = seconds_to_reach_per_seed(curve, 200.0)
    assert [s["train_s"] for s in both["per_seed"]] == [2.0, 6.0] and both["train_s_iqm"] == 4.0
    low, high = both["train_s_iqm_ci"]
    assert 2.0 <= low <= 4.0 <= high <= 6.0
    # Seeds vmapped in one program share its clock.
    shared = seconds_to_reach_per_seed([{"env_steps": 8, "train_s": 3.0, "returns": [50.0, 60.0]}], 40.0)
    assert [s["train_s"] for s in shared["per_seed"]] == [3.0, 3.0]


def test_regime_text():
    regime = parse_regime("fast:train.num_envs=256,seeds=2,train.batch_size=1024")
    assert (regime.name, regime.overrides, regime.seeds) == ("fast", ("train.num_envs=256", "train.batch_size=1024"), 2)
    assert parse_regime("brax-sac").is_baseline and not parse_regime("paper").is_baseline
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        parse_regime("paper:seeds=0")


@pytest.mark.unoptimized
def test_gpu_report_smoke_covers_every_part(tmp_path):
    """--smoke on CPU: every part ran (or was skipped with a reason), the JSON holds compile and run seconds and the
    summary table, and the fast policy was exported and evaluated in dm_control."""
    # A budget that no part reaches on a loaded machine: the smoke's parts end on their tiny sizes.
    path = gpu_report.main(["--smoke", "--budget-s", "3000", "--out", str(tmp_path)])
    data = json.loads(path.read_text())
    assert list(data["parts"]) == [name for name, *_ in gpu_report.PARTS]
    for name, part in data["parts"].items():
        assert part["status"] in ("ok", "skipped"), (name, part.get("error"), part.get("trace"))
        if part["status"] == "skipped":
            assert part["reason"]
    ok = {name for name, part in data["parts"].items() if part["status"] == "ok"}
    assert {"env_throughput", "update_throughput", "fast_training", "seed_scaling", "precision", "paper_training"} <= ok
    # A part's run seconds are its seconds less its own compilation (a program reused from another part is not).
    timed = {name: data["parts"][name] for name in ok - {"precision"}}
    assert all("compile_s" in part and part["run_s"] >= 0 for part in timed.values()), timed
    assert data["parts"]["precision"]["max_obs_diff_highest"] == 0.0  # the "accelerator" is the CPU here
    fast = data["parts"]["fast_training"]
    assert (tmp_path / fast["policy_file"]).is_file() and 0 <= fast["dm_control"]["return_mean"] <= 1000
    assert len(data["summary"]) == 1 + len(gpu_report.PARTS)
    assert (tmp_path / "throughput_cpu.png").is_file() and (tmp_path / "returns_cpu.png").is_file()


def test_gpu_report_keeps_the_other_parts_when_one_raises(monkeypatch, tmp_path):
    """A part that raises is recorded with its error; every part before and after it keeps its result, and the
    report is written after each part; a part that needs more than the budget left is skipped with the reason."""

    def boom(deadline):
        raise RuntimeError("out of memory")

    functions = {name: (lambda d, name=name: {"value": name}) for name, *_ in gpu_report.PARTS}
    functions["fast_training"] = boom
    monkeypatch.setattr(gpu_report, "part_functions", lambda sizes, out, done: functions)
    writes = []
    sizes = type("Sizes", (), {"tasks": ("a", "b")})()
    parts = gpu_report.run_parts(1e6, sizes, tmp_path, lambda p: writes.append(dict(p)), smoke=False)
    assert parts["fast_training"]["status"] == "error" and "out of memory" in parts["fast_training"]["error"]
    others = [name for name, *_ in gpu_report.PARTS if name != "fast_training"]
    assert all(parts[name] == {"status": "ok", "value": name, "seconds": parts[name]["seconds"]} for name in others)
    assert [list(w) for w in writes] == [[name for name, *_ in gpu_report.PARTS][: k + 1] for k in range(len(writes))]
    assert len(writes) == len(gpu_report.PARTS)

    tight = gpu_report.run_parts(1.0, sizes, tmp_path, lambda p: None, smoke=False)
    assert all(p["status"] == "skipped" and "the part needs" in p["reason"] for p in tight.values())


@pytest.mark.parametrize("text, algo", [("brax-ppo:ppo.num_envs=64", "ppo"), ("brax-sac", "sac")])
def test_baseline_regimes_compose_the_baseline_command(text, algo):
    """A brax regime becomes `mjx_iqrl.baseline` options: its algo, the budget, one seed per index, its overrides."""
    budget = Budget(env_steps=5000, seconds=60.0, eval_every=1000)
    cfg = baseline_config("cartpole-swingup", parse_regime(text), budget, seed_index=2)
    assert (cfg.algo, cfg.task, cfg.train.total_env_steps, cfg.train.max_train_seconds) == (
        algo,
        "cartpole-swingup",
        5000,
        60.0,
    )
    assert (
        cfg.eval.every_env_steps == 1000
        and cfg.seed == baseline_config("cartpole-swingup", parse_regime(text), budget).seed + 2
    )
    assert not cfg.progress and (algo != "ppo" or cfg.ppo.num_envs == 64)
