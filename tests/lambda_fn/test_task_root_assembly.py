"""The Lambda image without Docker: Dockerfile, pinned requirements, assembled task root."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ops.task_root import PRUNE_DIRS, PRUNE_FILES, ROOT, default_out

DOCKERFILE = (ROOT / "lambda_fn" / "Dockerfile").read_text()
REQUIREMENTS = (ROOT / "lambda_fn" / "requirements.txt").read_text()
VERSION = f"{sys.version_info.major}{sys.version_info.minor}"


def test_dockerfile_builds_from_the_lambda_base_with_hash_checked_wheels() -> None:
    assert DOCKERFILE.count("FROM ") == 1 and "FROM public.ecr.aws/lambda/python:3.12" in DOCKERFILE
    assert "--require-hashes" in DOCKERFILE and "--only-binary=:all:" in DOCKERFILE
    assert 'RUN python -c "from lambda_fn.handler import handler"' in DOCKERFILE
    assert 'CMD ["lambda_fn.handler.handler"]' in DOCKERFILE
    copies = re.findall(r"^COPY (\S+)", DOCKERFILE, re.MULTILINE)
    assert copies == ["lambda_fn/requirements.txt", "lambda_fn/*.py"]


def test_dockerfile_prunes_exactly_what_the_assembly_prunes() -> None:
    for pattern in PRUNE_DIRS:
        assert re.search(rf"\s{re.escape(pattern)}(\s|\\)", DOCKERFILE), pattern
    assert f"-name '{PRUNE_FILES}' -delete" in DOCKERFILE


def test_dockerignore_admits_only_the_runtime_files() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    rules = [line for line in lines if line.startswith(("*", "!"))]
    assert rules == ["*", "!lambda_fn/*.py", "!lambda_fn/requirements.txt"]


def test_requirements_are_pinned_with_hashes_and_torch_free() -> None:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", REQUIREMENTS, re.MULTILINE)
    names = {name.lower() for name, _ in pins}
    assert {"onnxruntime", "fastapi", "mangum", "pillow", "numpy", "python-multipart"} <= names
    assert not names & {"torch", "lightning", "torchvision", "uvicorn"}
    blocks = re.split(r"\n(?=[A-Za-z])", REQUIREMENTS.split("\n", 6)[-1])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)


@pytest.mark.parametrize("python_version", ["3.11", "3.12", "3.13"])
def test_the_default_task_root_is_named_by_its_python_for_every_version(
    python_version: str,
) -> None:
    """On Python 3.12, Lambda's own, the root used to lack the suffix the tests glob for, so
    13 Lambda tests failed there (issue 14, D5)."""
    out = default_out("x86_64", python_version)
    assert out.name == f"task-root-x86_64-py{python_version.replace('.', '')}"
    assert out.parent == ROOT / "build"


@pytest.mark.slow
def test_assembled_task_root_holds_the_runtime_code_and_no_training_code() -> None:
    command = [sys.executable, "-m", "ops.task_root", "--python-version", "local"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    (root,) = (ROOT / "build").glob(f"task-root-*-py{VERSION}")
    shipped = {p.name for p in (root / "lambda_fn").glob("*.py")}
    assert shipped == {p.name for p in (ROOT / "lambda_fn").glob("*.py")}
    assert not [p for p in root.iterdir() if p.name in ("torch", "model_training", "tests")]
    assert not list(root.glob("numpy/_core/tests")) and not list(root.glob("onnxruntime/tools"))
    assert (root.parent / f"{root.name}.size.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_every_requirement_has_a_python312_lambda_wheel(arch: str) -> None:
    command = [sys.executable, "-m", "ops.task_root", "--arch", arch, "--check-only"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"cp312 {arch} wheel" in result.stdout
