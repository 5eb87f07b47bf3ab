"""The GPU check (issue 16, item 6) runs end to end, so a session lent a GPU can spend its
few minutes of device time on the measurement, not on debugging the script. Here it runs
on CPU, shrunk; no GPU exists on this machine, so the utilisation stays unmeasured."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.gpu_check import main


@pytest.mark.slow
def test_the_gpu_check_reports_three_rates_and_what_bounds_them(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    main([
        "--accelerator", "cpu", "--precision", "32-true", "--steps", "2", "--warmup", "1",
        "--count", "8", "--batch-size", "2", "--num-workers", "0", "--out", str(out),
    ])  # fmt: skip
    report = json.loads(out.read_text())
    rates = report["images_per_s"]
    assert set(rates) == {"loader", "model", "both"}
    assert all(math.isfinite(rate) and rate > 0 for rate in rates.values()), rates
    assert report["bound_by"] == ("loader" if rates["loader"] < rates["model"] else "model")
    assert report["device"] == "cpu" and report["gpu_utilisation"] is None
    assert report["batch_size"] == 2 and report["steps"] == 2
