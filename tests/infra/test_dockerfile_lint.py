"""hadolint holds the serving Dockerfile to Docker's best practices (also in `make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).with_name("hadolint")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    command = [str(HADOLINT), "--no-color", str(dockerfile)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_serving_dockerfile_has_no_findings() -> None:
    result = hadolint(ROOT / "lambda_fn" / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_cd_inside_run_is_reported(tmp_path: Path) -> None:
    planted = (ROOT / "lambda_fn" / "Dockerfile").read_text()
    planted += 'RUN cd "${LAMBDA_TASK_ROOT}" && ls\n'
    (tmp_path / "Dockerfile").write_text(planted)
    result = hadolint(tmp_path / "Dockerfile")
    assert result.returncode != 0
    assert "DL3003" in result.stdout
