"""The demo's offline stages as a background process, for the end-to-end test
(tests/e2e/conftest.py starts it at collection; the test waits for it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGES_TIMEOUT_S = 1800  # several times the ~7 min the stages take beside the suite


@dataclass
class BackgroundDemo:
    """The demo's offline stages, running or finished, and where they write."""

    process: subprocess.Popen[str]
    root: Path
    log_file: IO[str]

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def log(self) -> Path:
        return self.root / "stages.log"

    def env(self) -> dict[str, str]:
        return stages_env(self.root)

    def wait(self) -> str:
        """Block until the stages end; their output, or a failure that shows it."""
        try:
            returncode = self.process.wait(timeout=STAGES_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            output = self.output()
            self.stop()
            pytest.fail(f"the demo's stages ran over {STAGES_TIMEOUT_S} s:\n{output}")
        assert returncode == 0, f"the demo's stages failed:\n{self.output()}"
        return self.output()

    def output(self) -> str:
        self.log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        """Kill the stages and the commands they run (their own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log_file.close()
        shutil.rmtree(self.root, ignore_errors=True)


def stages_env(root: Path) -> dict[str, str]:
    """The demo's environment in the tests: its own data directory, no W&B."""
    return {
        **os.environ,
        "AIORNOT_DATA_DIR": str(root / "data"),
        "WANDB_MODE": "disabled",
        "PYTHONUNBUFFERED": "1",
    }


def start_background_demo() -> BackgroundDemo:
    root = Path(tempfile.mkdtemp(prefix="aiornot-demo-"))
    log_file = (root / "stages.log").open("w")
    command = [sys.executable, "-m", "ops.demo", "--artifacts", str(root / "artifacts")]
    process = subprocess.Popen(
        [*command, "--no-serve"],
        cwd=REPO,
        env=stages_env(root),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one group: stop() reaches the training child too
    )
    return BackgroundDemo(process, root, log_file)
