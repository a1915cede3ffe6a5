"""Flat memory over a long run (second tier): host RSS and device memory in use, sampled after every chunk of a
real run of over 200 chunks (`benchmarks/memory.py`; its committed result is benchmarks/results/memory_cpu.json)."""

from __future__ import annotations

import pytest

from benchmarks import memory


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_run():
    """220 chunks of a tiny run, evaluating every 25: after the first 20 chunks host RSS rises by less than 4 MiB
    (measured on CPU: 0.7 MiB over 230 chunks, 2.8 KiB per chunk, the run's own records) and the device's live
    arrays not at all."""
    result = memory.measure(chunks=220, settle=20, every=25, checkpoint_every=0, overrides=[])
    assert result["chunks"] == 220
    assert result["host_rss"]["max_rise_bytes"] < 4 * 2**20, result["host_rss"]
    assert result["host_rss"]["slope_bytes_per_chunk"] < 16 * 2**10, result["host_rss"]
    assert result["device_in_use"]["max_rise_bytes"] == 0, result["device_in_use"]
