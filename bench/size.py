"""Deployment size: the assembled Lambda task root (x86_64, arm64) against the same with torch."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import ROOT

TORCH_DISTS = ("torch", "sympy", "networkx", "mpmath", "jinja2", "filelock", "fsspec")


def assemble(arch: str) -> dict[str, Any]:
    """ops/task_root.py (reuses an identical install) and its size report."""
    subprocess.run(
        [sys.executable, "-m", "ops.task_root", "--arch", arch],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((ROOT / "build" / f"task-root-{arch}-py312.size.json").read_text())


def pyc_bytes(root: Path) -> int:
    """What bytecode would add (Docker's pip writes .pyc): every .py compiled, as marshal sizes."""
    total = 0
    for path in root.rglob("*.py"):
        try:
            code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        total += len(marshal.dumps(code)) + 16  # 16: the .pyc header
    return total


def dist_bytes(name: str) -> int:
    """On-disk size of an installed distribution (its RECORD), 0 if absent."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def measure(archs: tuple[str, ...] = ("x86_64", "arm64"), *, build: bool = True) -> dict[str, Any]:
    """Sizes per arch; `build=False` (quick mode) reuses existing reports and never installs."""
    roots = {}
    for arch in archs:
        existing = ROOT / "build" / f"task-root-{arch}-py312.size.json"
        if not build and not existing.is_file():
            continue
        report = assemble(arch) if build else json.loads(existing.read_text())
        pyc = pyc_bytes(Path(report["path"]))
        roots[arch] = {
            "total_mb": report["total_mb"],
            "pyc_mb": round(pyc / 1e6, 1),
            "with_pyc_mb": round(report["total_mb"] + pyc / 1e6, 1),
            "largest_mb": report["largest_mb"],
        }
    torch_mb = {name: round(dist_bytes(name) / 1e6, 1) for name in TORCH_DISTS}
    return {
        "roots": roots,
        "torch_mb": torch_mb,
        "torch_total_mb": round(sum(torch_mb.values()), 1),
    }
