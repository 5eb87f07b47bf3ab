"""`make image` (ops/image.py): the daemonless build, its stand-in base, and the run line.

The full path, the Dockerfile built and the image serving a deployed model through
`ops.smoke`, is in tests/infra/test_local_deploy.py. Here: what a user sees when the tools are
missing, the Lambda-like run line, and that the stand-in base is made once, then reused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from ops import image

UNAVAILABLE = image.unavailable_reason()
needs_podman = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"{UNAVAILABLE}")


def test_the_run_line_is_lambdas_sandbox() -> None:
    command = image.run_command("aiornot:t", {"B": "2", "A": "1"}, memory_mb=2048)
    assert command[-1] == "aiornot:t"
    assert "--read-only" in command  # like Lambda: only /tmp is writable
    assert command[command.index("--tmpfs") + 1].startswith("/tmp:")
    assert command[command.index("--memory") + 1] == "2048m"
    assert command[command.index("--network") + 1] == "host"  # loopback services reachable
    envs = [command[i + 1] for i, arg in enumerate(command) if arg == "--env"]
    assert envs == ["A=1", "B=2"]


def test_without_podman_the_build_refuses_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "podman" else real_which(name)
    )
    assert image.main(["build"]) == 2
    err = capsys.readouterr().err
    assert "podman not installed" in err
    assert "make setup" in err


@pytest.mark.skipif(sys.version_info[:2] == (3, 12), reason="this interpreter is 3.12")
def test_a_python_that_is_not_312_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"is not CPython 3\.12"):
        image.python_prefix(sys.executable)


@pytest.mark.slow
@needs_podman
def test_the_stand_in_base_is_made_once_then_taken_from_local_storage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert image.main(["base"]) == 0  # makes it (about a minute) unless already there
    capsys.readouterr()
    assert image.main(["base"]) == 0
    assert "from local container storage" in capsys.readouterr().out


@pytest.mark.slow
@needs_podman
def test_the_stand_in_entrypoint_needs_a_runtime_api_and_a_handler() -> None:
    base = image.run_command(image.BASE_IMAGE, {}, memory_mb=256)
    missing_api = subprocess.run(
        [*base, "lambda_fn.handler.handler"], capture_output=True, text=True, timeout=60
    )
    assert missing_api.returncode == 142
    assert "AWS_LAMBDA_RUNTIME_API is not set" in missing_api.stderr
    no_handler = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert no_handler.returncode == 142
    assert "handler name" in no_handler.stderr
