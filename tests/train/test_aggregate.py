"""Aggregates over seeds against numbers computed by hand."""

from __future__ import annotations

import pytest

from mjx_iqrl.aggregate import summarize


def test_single_seed_is_just_the_value():
    assert summarize([7.5], "eval/return_mean") == {"eval/return_mean": 7.5}


def test_mean_and_iqm_by_hand():
    # 8 seeds 1..8: mean 4.5; IQM drops the lowest and highest 25% (2 each): mean(3, 4, 5, 6) = 4.5.
    out = summarize([1, 2, 3, 4, 5, 6, 7, 8], "r")
    assert out["r"] == 4.5 and out["r/iqm"] == 4.5
    assert out["r/per_seed"] == [1, 2, 3, 4, 5, 6, 7, 8]
    # 6 seeds with an outlier: mean (0+1+2+3+4+100)/6 = 18.333...; IQM trims 1 from each end: mean(1,2,3,4) = 2.5.
    out = summarize([0, 1, 2, 3, 4, 100], "r")
    assert out["r"] == pytest.approx(110 / 6) and out["r/iqm"] == pytest.approx(2.5)


def test_bootstrap_intervals_bracket_the_estimates_and_are_reproducible():
    values = [0, 1, 2, 3, 4, 100]
    out = summarize(values, "r")
    assert min(values) <= out["r/ci_low"] <= out["r"] <= out["r/ci_high"] <= max(values)
    assert min(values) <= out["r/iqm_ci_low"] <= out["r/iqm"] <= out["r/iqm_ci_high"] <= max(values)
    assert summarize(values, "r") == out
    # Identical seeds: no uncertainty at all.
    same = summarize([3.0, 3.0, 3.0], "r")
    assert same["r/ci_low"] == same["r/ci_high"] == same["r/iqm"] == 3.0
