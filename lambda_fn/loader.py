"""Loading a bundle to serve: a local directory, or an `s3://` version cached once on disk.

Nothing is returned until every file's sha256 checks out; a download is staged, verified
and only then renamed into the cache, so a torn or altered copy is never used.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_fn.manifest import (
    FP32,
    MANIFEST_NAME,
    MODEL_NAME,
    BundleError,
    Manifest,
    VersionAddress,
    verify_bundle,
)


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on local disk."""

    manifest: Manifest
    directory: Path
    model_path: Path

    def variant_path(self, name: str) -> Path:
        """The graph of a variant name ("fp32": model.onnx)."""
        if name != FP32 and name not in self.manifest.variants:
            raise BundleError(f"{MANIFEST_NAME}: no variant {name!r}", file=MANIFEST_NAME)
        return self.directory / self.manifest.variant_file(name)


def load_bundle(uri: str, cache_dir: Path) -> Bundle:
    """Load a verified bundle from a local directory or an `s3://` prefix (cached once)."""
    if uri.startswith("s3://"):
        directory, manifest = _cached_from_s3(uri, Path(cache_dir))
    else:
        directory = Path(uri.removeprefix("file://")).expanduser()
        manifest = verify_bundle(directory)
    return Bundle(manifest=manifest, directory=directory, model_path=directory / MODEL_NAME)


def _cached_from_s3(uri: str, cache_dir: Path) -> tuple[Path, Manifest]:
    """Reuse `cache_dir/VERSION` if it verifies; else fetch it again."""
    target = cache_dir / VersionAddress.parse(uri).version
    if target.exists():
        try:
            return target, verify_bundle(target)
        except BundleError:
            shutil.rmtree(target, ignore_errors=True)  # a stale or damaged cache: fetch again
    return target, fetch_verified(uri, target)


def fetch_verified(uri: str, target: Path, *, client: Any | None = None) -> Manifest:
    """Download an `s3://` bundle into `target` atomically: staged, verified, then renamed."""
    from lambda_fn import s3_download  # boto3 only when S3 is actually used

    address = VersionAddress.parse(uri)
    version = address.version
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    try:
        manifest = s3_download.download_bundle(
            address.bucket, address.key_prefix, staging, client=client
        )
        if manifest.version != version:
            raise BundleError(
                f"{uri}{MANIFEST_NAME}: manifest version {manifest.version!r} does not match "
                f"the URI's version {version!r}",
                file=MANIFEST_NAME,
            )
        verify_bundle(staging)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; use its copy if it verifies
            verify_bundle(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
