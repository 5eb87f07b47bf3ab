"""Content-derived image tags: same sources, same tag; any change, a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from ops.image_tag import source_tag


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lambda_fn").mkdir()
    (tmp_path / "lambda_fn" / "app.py").write_text("app = 1\n")
    (tmp_path / "lambda_fn" / "requirements.txt").write_text("onnxruntime==1.20.0\n")
    (tmp_path / "lambda_fn" / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    return tmp_path


def test_tag_is_stable_and_a_valid_ecr_tag(project: Path) -> None:
    tag = source_tag(project, "x86_64")
    assert tag == source_tag(project, "x86_64")
    assert Settings(image_tag=tag).image_tag == tag  # passes the CDK app's validation


@pytest.mark.parametrize("changed", ["app.py", "requirements.txt", "Dockerfile"])
def test_any_source_requirement_or_dockerfile_change_gives_a_new_tag(
    project: Path, changed: str
) -> None:
    before = source_tag(project, "x86_64")
    (project / "lambda_fn" / changed).write_text("changed\n")
    assert source_tag(project, "x86_64") != before


def test_caches_and_hidden_files_do_not_change_the_tag(project: Path) -> None:
    before = source_tag(project, "x86_64")
    (project / "lambda_fn" / "__pycache__").mkdir()
    (project / "lambda_fn" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (project / "lambda_fn" / ".DS_Store").write_bytes(b"\0")
    assert source_tag(project, "x86_64") == before


def test_each_architecture_gets_its_own_tag(project: Path) -> None:
    assert source_tag(project, "x86_64").endswith("-x86_64")
    assert source_tag(project, "arm64").endswith("-arm64")
