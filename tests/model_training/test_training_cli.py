"""The training CLI end to end on tiny demo data: help, smoke run, memorization, profiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model_training.cli import AiOrNotCLI, main
from tests.model_training.training_args import tiny_fit_args

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_every_configurable_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--model.net.layers",
        "--model.net.input_filter",
        "--model.lr",
        "--data.dataset.source",
        "--data.crop_size",
        "--trainer.strategy",
        "--trainer.num_nodes",
        "--checkpoint.monitor",
        "--trainer.logger",
        "--resume",
        "--memorize",
        "--profile",
    ):
        assert flag in text, flag


def test_troubleshooting_switches_are_refused_outside_fit(tmp_path: Path, demo_root: Path) -> None:
    args = tiny_fit_args(tmp_path, demo_root, "--memorize")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", *args[1:]])
    assert exit_info.value.code != 0


def test_fast_dev_run_smoke_runs_the_whole_pipeline_in_a_fresh_process(
    tmp_path: Path, demo_root: Path
) -> None:
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = tiny_fit_args(tmp_path, demo_root, "--trainer.fast_dev_run=true")
    result = subprocess.run(
        [sys.executable, "-m", "model_training.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "`Trainer.fit` stopped: `max_steps=1` reached." in result.stdout + result.stderr


def test_memorize_drives_the_loss_on_one_demo_batch_below_threshold(
    tmp_path: Path, demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        tiny_fit_args(
            tmp_path, demo_root, "--memorize", "--memorize_steps=150", "--data.batch_size=8"
        )
    )
    out = capsys.readouterr().out
    assert "memorized one batch in" in out
    steps = int(out.split("memorized one batch in ")[1].split()[0])
    assert 0 < steps <= 150
    assert not list(tmp_path.rglob("*.ckpt")), "memorization must not write checkpoints"


def test_memorize_exits_nonzero_when_the_bound_is_too_small(
    tmp_path: Path, demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_fit_args(tmp_path, demo_root, "--memorize", "--memorize_steps=2"))
    assert exit_info.value.code == 1
    assert "memorization FAILED" in capsys.readouterr().out


def test_profile_writes_a_chrome_trace_prints_top_ops_and_logs_it_to_wandb(
    tmp_path: Path,
    demo_root: Path,
    offline_wandb: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    profile_dir = tmp_path / "profile"
    main(
        tiny_fit_args(
            tmp_path, demo_root, "--profile", "--profile_steps=2", f"--profile_dir={profile_dir}"
        )
    )
    traces = list(profile_dir.glob("*.pt.trace.json"))
    assert len(traces) == 1
    events = json.loads(traces[0].read_text())["traceEvents"]
    assert any(e.get("cat") == "cpu_op" and "conv" in e.get("name", "") for e in events)
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line.strip().startswith("aten::")]
    assert "Self CPU %" in out and table, out  # the profiler's own table, printed
    self_cpu = [float(row[1].rstrip("%")) for row in table]
    assert self_cpu == sorted(self_cpu, reverse=True)  # ranked by self time, not nested time
    run_files = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 1
    assert b"profile-" in run_files[0].read_bytes()  # the trace artifact is recorded in the run


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_run_trains_in_bf16_with_channels_last_weights(tmp_path: Path, demo_root: Path) -> None:
    gpu = ("--trainer.accelerator=gpu", "--trainer.precision=bf16-mixed")
    cli = AiOrNotCLI(args=tiny_fit_args(tmp_path, demo_root, *gpu, "--trainer.fast_dev_run=true"))
    stem_conv = cli.model.net.stem[0].weight
    assert stem_conv.is_cuda and stem_conv.is_contiguous(memory_format=torch.channels_last)
