"""Assemble the Hugging Face Space from `frontend/`: the package, its card and a two-line entry.

    python -m ops.space --out build/space
    hf upload USER/aiornot build/space . --repo-type space

The Space's root holds `README.md` (the Space card: sdk, sdk_version, app_file) and
`requirements.txt` from `frontend/`, the `frontend` package itself, and `app.py`, which
only imports and runs `frontend.app.main`. So the modules import each other one way,
as `frontend.x`, in this repository and on the Space alike.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
ROOT_FILES = ("README.md", "requirements.txt")  # the Space reads these at its root
ENTRY_POINT = "from frontend.app import main\n\nmain()\n"


def assemble_space(out: Path) -> Path:
    """Write the Space's files into `out` (which must not exist yet) and return it."""
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new directory")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", *ROOT_FILES)
    shutil.copytree(FRONTEND, out / "frontend", ignore=skip)
    for name in ROOT_FILES:
        shutil.copy(FRONTEND / name, out / name)
    (out / "app.py").write_text(ENTRY_POINT)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/space"))
    args = parser.parse_args(argv)
    try:
        print(assemble_space(args.out))
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
