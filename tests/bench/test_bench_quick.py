"""The benchmark harness runs end to end in its quick mode and writes every section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main

SECTIONS = [
    "## Machine",
    "## 1. Model latency",
    "## 2. Inference cost per request",
    "## 3. Request latency",
    "## 4. Cold start",
    "## 5. Deployment size",
    "## 6. Throughput",
    "## 7. Training throughput",
    "## 8. Training loader",
]


@pytest.mark.slow
def test_quick_bench_writes_a_report_with_every_section_and_target(tmp_path: Path) -> None:
    out, raw = tmp_path / "BENCHMARKS.md", tmp_path / "raw.json"
    assert main(["--quick", "--out", str(out), "--json", str(raw), "--work", str(tmp_path)]) == 0
    text = out.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    for target in (
        ">= 2x",
        ">= 70%",
        ">= 1.5x",
        "<= 1.10x",
        "<= 400 ms",
        "<= 200",
        ">= 4x",
        ">= 10x",
    ):
        assert target in text, target
    results = json.loads(raw.read_text())
    engines = results["latency"][0]["ms"]
    assert set(engines) == {"ort_fp32", "ort_int8", "torch_eager"}
    assert all(v > 0 for v in engines.values())
    served = results["requests"][0]["variants"]
    assert set(served) == {"fp32", "int8"}  # each checked against /model's serving_variant
    for variant in served.values():
        assert all(t["errors"] == 0 and t["ok"] == t["n"] for t in variant["throughput"])
    assert "Served int8 vs fp32" in text and "int8 p50 ms" in text
    cold = results["cold"][0]["handlers"]
    for stages in cold.values():
        assert stages["interpreter"] <= stages["imported"] <= stages["model_ready"]
        assert stages["model_ready"] <= stages["first_response"]
    assert "libraries only (floor)" in cold  # what the first response cannot do without
    loader = results["pixel_cache"]
    assert loader["decode"] > 0 and loader["cache"] > 0
    crops = {row["upload"]: row for row in results["crops"]}
    assert crops["512x512"]["crops"] == 16  # the demo's 4 x 4 grid of 64 px crops
    assert all(row["old_input"] == "64 px, 1 crop" for row in crops.values())
    again = tmp_path / "again.md"
    assert main(["--render", str(raw), "--out", str(again)]) == 0
    assert again.read_text() == text


@pytest.mark.slow
def test_cold_start_also_starts_ours_and_the_floor_from_the_task_root(tmp_path: Path) -> None:
    """The rows that start as Lambda starts the image, each floor beside its own ours."""
    from bench.cold_start import FLOOR_NAME, FROM_TASK_ROOT, OURS_NAME, measure
    from bench.common import DEMO
    from bench.report import cold_section

    result = measure(DEMO, tmp_path, 1, task_root=True)
    handlers = result["handlers"]
    assert {OURS_NAME + FROM_TASK_ROOT, FLOOR_NAME + FROM_TASK_ROOT} <= set(handlers)
    for stages in handlers.values():
        assert 0 < stages["interpreter"] <= stages["imported"] <= stages["first_response"]
    rows = [line for line in cold_section([result]) if FROM_TASK_ROOT in line]
    floor = handlers[FLOOR_NAME + FROM_TASK_ROOT]["first_response"]
    ours = handlers[OURS_NAME + FROM_TASK_ROOT]["first_response"]
    assert len(rows) == 2 and f"{floor / ours:.0%} of ours" in rows[1]
