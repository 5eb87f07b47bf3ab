"""`make demo`'s stage bookkeeping: only a stage that finished is reused; an interrupted
training resumes from its `last.ckpt`, anything else interrupted is redone, and the demo
says which (issue 14, D4: a Ctrl-C in epoch 2 of 6 used to serve a 1-epoch model)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.demo import DemoError, Stage, run_stage, stage_marker


def recording_stage(tmp_path: Path, *, exit_code: int = 0, resume: bool = False) -> Stage:
    """A stage whose command records its arguments and writes its output."""
    output = tmp_path / "out.txt"
    script = (
        "import sys, pathlib;"
        f"pathlib.Path({str(tmp_path / 'argv.txt')!r}).write_text(' '.join(sys.argv[1:]));"
        f"pathlib.Path({str(output)!r}).write_text('partial' if {exit_code} else 'whole');"
        f"sys.exit({exit_code})"
    )
    return Stage(
        "train",
        [sys.executable, "-c", script, "--config", "x.yaml"],
        output,
        stage_marker(tmp_path, "train"),
        resume_from=tmp_path / "last.ckpt" if resume else None,
    )


def test_a_finished_stage_is_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stage = recording_stage(tmp_path)
    assert run_stage(stage, 1, 1, fresh=False) is True
    assert stage.marker is not None and stage.marker.is_file()
    (tmp_path / "argv.txt").unlink()
    assert run_stage(stage, 1, 1, fresh=False) is False
    assert "reusing" in capsys.readouterr().out and not (tmp_path / "argv.txt").exists()


def test_an_output_without_its_marker_is_redone_and_the_demo_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = recording_stage(tmp_path)
    (tmp_path / "out.txt").write_text("left by a run that was stopped")
    assert run_stage(stage, 1, 1, fresh=False) is True
    assert "is not from a finished run; redoing the stage" in capsys.readouterr().out
    assert (tmp_path / "out.txt").read_text() == "whole"


def test_an_interrupted_training_resumes_from_its_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = recording_stage(tmp_path, resume=True)
    (tmp_path / "last.ckpt").write_text("epoch 2 of 6")
    (tmp_path / "out.txt").write_text("epoch 2 of 6")
    assert run_stage(stage, 1, 1, fresh=False) is True
    assert "stopped before it finished; resuming" in capsys.readouterr().out
    assert (tmp_path / "argv.txt").read_text().endswith(f"--resume={tmp_path / 'last.ckpt'}")
    assert stage.marker is not None and stage.marker.is_file()


def test_a_failed_stage_leaves_no_marker(tmp_path: Path) -> None:
    stage = recording_stage(tmp_path, exit_code=3)
    with pytest.raises(DemoError, match="exit 3"):
        run_stage(stage, 1, 1, fresh=False)
    assert stage.marker is not None and not stage.marker.exists()
    assert not stage.finished()
