"""Assemble the Hugging Face Space from `frontend/`, and publish it.

    python -m ops.space --out build/space                  # assemble only
    python -m ops.space publish USER/NAME --api-url URL    # create if absent, upload, secrets
    python -m ops.space publish USER/NAME --dry-run        # say what it would do

The Space's root holds `README.md` (the Space card: sdk, sdk_version, app_file) and
`requirements.txt` from `frontend/`, the `frontend` package itself, and `app.py`, which
only imports and runs `frontend.app.main`. So the modules import each other one way,
as `frontend.x`, in this repository and on the Space alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
ROOT_FILES = ("README.md", "requirements.txt")  # the Space reads these at its root
ENTRY_POINT = "from frontend.app import main\n\nmain()\n"
SECRETS = ("AIORNOT_API_URL", "AIORNOT_API_KEY")  # what frontend/settings.py reads


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


def publish(
    space: str, api_url: str, api_key: str | None, *, api: Any, dry_run: bool = False
) -> list[str]:
    """Create the Space if absent, upload the assembled folder, set the frontend's secrets.

    `api` is a `huggingface_hub.HfApi` (logged in with `hf auth login` or HF_TOKEN). Returns
    the steps, done or (dry run) planned; secrets are named, never printed.
    """
    if "/" not in space:
        raise ValueError(f"SPACE must be OWNER/NAME, got {space!r}")
    if not api_url.startswith(("https://", "http://")):
        raise ValueError(f"--api-url must be the API's http(s) URL, got {api_url!r}")
    secrets = {"AIORNOT_API_URL": api_url, "AIORNOT_API_KEY": api_key}
    steps = [
        f"create Space {space} (sdk gradio) unless it exists",
        f"upload the assembled frontend/ to {space}",
        *(f"set secret {key}" for key, value in secrets.items() if value),
    ]
    if dry_run:
        return steps
    api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = assemble_space(Path(scratch) / "space")
        api.upload_folder(
            repo_id=space,
            repo_type="space",
            folder_path=folder,
            delete_patterns=["frontend/**"],  # modules removed here go from the Space too
            commit_message="Publish the aiornot frontend (python -m ops.space publish)",
        )
    for key, value in secrets.items():
        if value:
            api.add_space_secret(space, key, value)
    return steps


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/space"), help="assemble here")
    commands = parser.add_subparsers(dest="command")
    push = commands.add_parser("publish", help="publish frontend/ to a Hugging Face Space")
    push.add_argument("space", help="OWNER/NAME of the Space")
    push.add_argument(
        "--api-url",
        default=os.environ.get("AIORNOT_API_URL", ""),
        help="the API the Space calls (default: $AIORNOT_API_URL); the key comes from "
        "$AIORNOT_API_KEY, never a flag",
    )
    push.add_argument("--dry-run", action="store_true", help="say what it would do, touch nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "publish":
        return _publish(args)
    try:
        print(assemble_space(args.out))
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _publish(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        steps = publish(
            args.space,
            args.api_url,
            os.environ.get("AIORNOT_API_KEY") or None,
            api=HfApi(),
            dry_run=args.dry_run,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError) as exc:
        print(
            f"error: the Hub refused or could not be reached ({type(exc).__name__}: {exc}); "
            "log in with `hf auth login` (or set HF_TOKEN) and check the Space name",
            file=sys.stderr,
        )
        return 1
    prefix = "would " if args.dry_run else ""
    for step in steps:
        print(f"{prefix}{step}")
    if not args.dry_run:
        print(f"https://huggingface.co/spaces/{args.space}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
