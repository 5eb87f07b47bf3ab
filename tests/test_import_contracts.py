"""The dependency table (docs/architecture.md), enforced: import-linter's contracts
(pyproject.toml) hold on the tree, and each kind of leak the table forbids breaks its
contract when planted."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["lambda_fn", "model_training", "infra", "ops", "frontend", "bench", "tests", "scripts"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts against the packages under `root` (which shadow the installed ones)."""
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# leak -> (module it is planted in, the import, the contract that must break)
LEAKS = {
    "infra reaching into serving": (
        "infra/naming.py", "import lambda_fn.manifest", "infra is the CDK app only"
    ),
    "a circle in lambda_fn": (
        "lambda_fn/manifest.py", "import lambda_fn.loader", "no import cycles"
    ),
    "HTTP errors in the domain": (
        "lambda_fn/predictor.py", "import lambda_fn.errors", "only lambda_fn.app speaks HTTP"
    ),
    "torch in serving": ("lambda_fn/stem.py", "import torch", "serving (lambda_fn) never imports"),
    "a tool importing tests": (
        "ops/smoke.py", "import tests.support.http_server", "operator tools"
    ),
    "bench importing a conftest": (
        "bench/report.py", "import tests.lambda_fn.conftest", "bench takes its harness"
    ),
    "the frontend importing serving": (
        "frontend/app.py", "import lambda_fn.stem", "the frontend talks"
    ),
}  # fmt: skip


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_a_planted_leak_breaks_its_contract(tmp_path: Path, leak: str) -> None:
    module, statement, contract = LEAKS[leak]
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert (tmp_path / module).is_file(), module
    with (tmp_path / module).open("a") as handle:
        handle.write(f"\n{statement}  # planted\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout


def test_infra_does_not_name_the_training_or_serving_code_in_strings_either() -> None:
    """A command written into a template (`python -m model_training...`) is a dependency
    import-linter cannot see: infra points at make targets instead."""
    named = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "infra").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and any(package in node.value for package in ("model_training", "lambda_fn."))
    ]
    assert not named, named
