"""A content-derived image tag: the same serving sources always give the same tag.

ECR tags are immutable here, so a tag must name its content: rebuilding unchanged sources
reuses the pushed image, and any change to code, requirements or Dockerfile gets a new tag.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SOURCE_DIR = "lambda_fn"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}


def source_files(root: Path, source_dir: str = SOURCE_DIR) -> list[Path]:
    """Everything that goes into the image: sources, requirements, Dockerfile; no caches."""
    base = root / source_dir
    return sorted(
        path
        for path in base.rglob("*")
        if path.is_file()
        and not IGNORED_PARTS.intersection(path.relative_to(base).parts)
        and not any(part.startswith(".") for part in path.relative_to(base).parts)
        and path.suffix not in IGNORED_SUFFIXES
    )


def source_tag(root: Path, architecture: str, source_dir: str = SOURCE_DIR) -> str:
    """`<16 hex of sha256 over paths and contents>-<architecture>`, a valid ECR tag."""
    digest = hashlib.sha256()
    for path in source_files(root, source_dir):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{digest.hexdigest()[:16]}-{architecture}"
