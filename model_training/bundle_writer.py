"""Writing bundles: hash the files, name the version, write `model.json` (never on a server).

Versions are one scheme, `YYYYMMDDTHHMMSSZ-<hash>`: the UTC time, then the first 7 hex
digits of a sha256 over the graphs' own sha256s, so ids sort by time and name their content.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_fn.manifest import (
    FP32,
    MANIFEST_NAME,
    MODEL_NAME,
    BundleError,
    FileEntry,
    Manifest,
    sha256_file,
)
from lambda_fn.stem import InputSpec


def hash_files(directory: Path) -> dict[str, FileEntry]:
    """Hash every regular file in `directory` except the manifest itself."""
    return {
        path.name: FileEntry(sha256=sha256_file(path), bytes=path.stat().st_size)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME and not path.name.startswith(".")
    }


def bundle_version(directory: Path, now: datetime | None = None) -> str:
    """The version id of the graphs (`*.onnx`) in `directory`, stamped with `now` (UTC)."""
    graphs = sorted(Path(directory).glob("*.onnx"))
    content = hashlib.sha256("".join(sha256_file(p) for p in graphs).encode()).hexdigest()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{content[:7]}"


def write_manifest(
    directory: Path,
    *,
    name: str,
    input_spec: InputSpec,
    outputs: list[dict[str, Any]],
    calibration: dict[str, Any],
    threshold: float,
    metrics: dict[str, Any],
    lineage: dict[str, Any],
    version: str | None = None,
    variants: dict[str, dict[str, Any]] | None = None,
    serving_variant: str = FP32,
    now: datetime | None = None,
) -> Manifest:
    """Hash the files already in `directory` and write `model.json` beside them."""
    directory = Path(directory)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    files = hash_files(directory)
    if MODEL_NAME not in files:
        raise BundleError(
            f"{directory / MODEL_NAME}: missing; export the graph first", file=MODEL_NAME
        )
    manifest = Manifest.model_validate(
        {
            "name": name,
            "version": version or bundle_version(directory, now),
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": files,
            "input": input_spec.to_dict(),
            "outputs": outputs,
            "calibration": calibration,
            "threshold": threshold,
            "metrics": metrics,
            "lineage": lineage,
            "variants": variants or {},
            "serving_variant": serving_variant,
        }
    )
    (directory / MANIFEST_NAME).write_text(manifest.dump_json())
    return manifest
