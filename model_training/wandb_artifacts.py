"""Delete a run's or a project's old W&B model artifacts, keeping the versions that matter.

With `log_model: all` every checkpoint Lightning writes becomes a version of artifact
`model-<run id>`, so a long run leaves dozens of versions behind, each a full checkpoint
(about 130 MB for resnet18 with its optimizer state). Versions carrying one of the kept
aliases (`best`, `latest`, `prod-ready` by default) stay; the rest are deleted, with any
other aliases they carry. `--dry-run` lists what would go.

    python -m model_training.wandb_artifacts cleanup --project ENTITY/PROJECT [--run RUN_ID]
        [--keep best latest prod-ready] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from model_training.tracking import has_wandb_credentials

DEFAULT_KEEP = ("best", "latest", "prod-ready")
MODEL_TYPE = "model"


@dataclass
class CleanupReport:
    kept: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # or, in a dry run, that would be
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    freed_bytes: int = 0
    listing_error: str | None = None  # listing stopped here; what was done before stands


def model_artifacts(
    connect: Callable[[], Any], project: str, run: str | None = None
) -> Iterator[Any]:
    """Every model artifact version of one run, or of every model collection in a project.

    `connect` (`wandb.Api`) is called on the first step, so a missing login or an
    unreachable server shows up as a listing error like any other.
    """
    api = connect()
    if run is not None:
        for artifact in api.run(f"{project}/{run}").logged_artifacts():
            if artifact.type == MODEL_TYPE:
                yield artifact
        return
    for collection in api.artifact_collections(project_name=project, type_name=MODEL_TYPE):
        yield from collection.artifacts()


def cleanup(
    artifacts: Iterable[Any], keep: Sequence[str] = DEFAULT_KEEP, *, dry_run: bool = False
) -> CleanupReport:
    """Delete each version without a kept alias; one failure never stops the rest."""
    report = CleanupReport()
    versions = iter(artifacts)
    while True:
        try:
            artifact = next(versions)
        except StopIteration:
            break
        except Exception as exc:  # the W&B client raises its own CommError and others
            report.listing_error = f"{type(exc).__name__}: {exc}"
            break
        name = artifact.name if ":" in artifact.name else f"{artifact.name}:{artifact.version}"
        if set(artifact.aliases) & set(keep):
            report.kept.append(name)
            continue
        if not dry_run:
            try:
                artifact.delete(delete_aliases=True)
            except Exception as exc:
                report.failed.append((name, f"{type(exc).__name__}: {exc}"))
                continue
        report.deleted.append(name)
        report.freed_bytes += int(getattr(artifact, "size", 0) or 0)
    return report


def render(report: CleanupReport, *, dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    lines = [f"kept    {name}" for name in report.kept]
    lines += [f"{verb:<7} {name}" for name in report.deleted]
    lines += [f"FAILED  {name}: {reason}" for name, reason in report.failed]
    if report.listing_error:
        lines.append(f"STOPPED listing the artifacts: {report.listing_error}")
    lines.append(
        f"{len(report.kept)} kept, {len(report.deleted)} {verb} "
        f"({report.freed_bytes / 1e6:.1f} MB), {len(report.failed)} failed"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_training.wandb_artifacts")
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser(
        "cleanup", help="delete model artifact versions without a kept alias"
    )
    clean.add_argument("--project", required=True, help="ENTITY/PROJECT (or PROJECT)")
    clean.add_argument("--run", help="only this run's artifacts (its id); default: the project's")
    clean.add_argument(
        "--keep",
        nargs="+",
        default=list(DEFAULT_KEEP),
        metavar="ALIAS",
        help=f"aliases whose versions stay (default: {' '.join(DEFAULT_KEEP)})",
    )
    clean.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """0 when every deletion succeeded, 1 when some failed, 2 when W&B could not be asked."""
    args = build_parser().parse_args(argv)
    if not has_wandb_credentials():
        print(
            "Not cleaning up: no W&B credentials (run `wandb login` or set WANDB_API_KEY).",
            file=sys.stderr,
        )
        return 2
    import wandb  # heavy; only the command needs it

    report = cleanup(
        model_artifacts(wandb.Api, args.project, args.run), args.keep, dry_run=args.dry_run
    )
    if report.listing_error and not (report.kept or report.deleted or report.failed):
        print(
            f"Not cleaning up: W&B could not list {args.project}'s model artifacts "
            f"({report.listing_error}). Log in (`wandb login` or WANDB_API_KEY), check "
            "that the server is reachable and the project path.",
            file=sys.stderr,
        )
        return 2
    print(render(report, dry_run=args.dry_run))
    return 1 if report.failed or report.listing_error else 0


if __name__ == "__main__":
    sys.exit(main())
