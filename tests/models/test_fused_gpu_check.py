"""`make gpu-check`'s script at a toy size on the CPU: its table covers every network, batch,
path and dtype, with rates that agree with the work done, and its gradient check is tight."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_runs_at_a_tiny_size_on_the_cpu(tmp_path: Path) -> None:
    from bench.gpu_check import DTYPES, NETWORKS, PATHS, TINY

    out = tmp_path / "check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "bench.gpu_check", "--device", "cpu", "--tiny", "--out", str(out)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu"
    grid = {(n, b, p, d) for n in NETWORKS for b in TINY.batches for p in PATHS for d in DTYPES}
    rows = {(r["network"], r["batch"], r["path"], r["dtype"]): r for r in result["rows"]}
    skipped = {(r["network"], r["batch"], r["path"], r["dtype"]) for r in result["skipped"]}
    assert set(rows) | skipped == grid and not set(rows) & skipped
    # only what the CPU cannot run is left out (a budget of 420 s is far from reached)
    assert skipped == {k for k in grid if k[2] == "cudnn" and k[3] == "bf16"}
    for (network, batch, _, _), row in rows.items():
        assert row["units"] == ("chars" if network == "text" else "points")
        assert math.isfinite(row["units_per_s"]) and row["units_per_s"] > 0
        # rate x time = the units of one step: every symbol, or the points that are not padding
        work = row["units_per_s"] * row["seconds_per_step"]
        full = batch * (TINY.chars if network == "text" else TINY.points)
        assert work == pytest.approx(full, rel=1e-6) if network == "text" else 0 < work <= full
        assert row["peak_memory_mb"] is None  # no device memory on the CPU
    for name in ("lstm_layer", "synthesis"):
        check = result["gradients"][name]
        assert check["max_abs_gradient"] > 0
        assert check["max_abs_difference"] <= 1e-5 * check["max_abs_gradient"]
    printed = done.stdout
    assert "| prediction | 2 | fused | fp32 |" in printed
