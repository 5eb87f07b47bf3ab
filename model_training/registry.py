"""The model registry is an S3 prefix: publish immutable versions, list them, pull one back.

python -m model_training.registry publish DIR --bucket B [--endpoint-url URL]
python -m model_training.registry list --bucket B [--json]
python -m model_training.registry pull VERSION --bucket B --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_fn.loader import fetch_verified
from lambda_fn.manifest import (
    MANIFEST_NAME,
    MODELS_PREFIX,
    BundleError,
    Manifest,
    VersionAddress,
    verify_bundle,
)
from lambda_fn.s3_download import fetch_manifest, s3_client

DEFAULT_PREFIX = MODELS_PREFIX


class RegistryError(RuntimeError):
    """A registry operation refused, with the reason a person can act on."""


@dataclass(frozen=True)
class VersionInfo:
    """One line of `list`: the version and the numbers people choose by."""

    version: str
    uri: str
    complete: bool
    name: str | None = None
    created_at: str | None = None
    accuracy: float | None = None
    auroc: float | None = None
    threshold: float | None = None
    variants: tuple[str, ...] = ()


def prefix_exists(client: Any, bucket: str, prefix: str) -> bool:
    """True when any object sits under `prefix` (even a partial upload)."""
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return response.get("KeyCount", 0) > 0


def list_prefixes(client: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate "subfolders" of `prefix`, e.g. every version under models/."""
    paginator = client.get_paginator("list_objects_v2")
    found: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def upload_bundle(
    client: Any, directory: Path, manifest: Manifest, bucket: str, prefix: str
) -> None:
    """Upload the listed files, then `model.json` last: a partial upload is never a version."""
    for name in manifest.files:
        client.upload_file(str(directory / name), bucket, prefix + name)
    client.put_object(
        Bucket=bucket,
        Key=prefix + MANIFEST_NAME,
        Body=(directory / MANIFEST_NAME).read_bytes(),
        ContentType="application/json",
        IfNoneMatch="*",  # S3 conditional write: never replace a published manifest
    )


def publish(directory: Path, bucket: str, *, client: Any, prefix: str = DEFAULT_PREFIX) -> str:
    """Verify, refuse a published version, upload the files and then `model.json`.

    A version is published once its `model.json` exists. Files under a prefix without one
    are an interrupted publish, never served: publishing again replaces them and finishes.
    """
    manifest = verify_bundle(directory)
    address = VersionAddress(bucket, manifest.version, prefix)
    if prefix_exists(client, bucket, address.key_prefix + MANIFEST_NAME):
        raise RegistryError(
            f"{address.uri} already exists; versions are immutable (export a new one)"
        )
    if prefix_exists(client, bucket, address.key_prefix):
        print(
            f"{address.uri} has files but no {MANIFEST_NAME}: finishing an interrupted publish",
            file=sys.stderr,
        )
    try:
        upload_bundle(client, directory, manifest, bucket, address.key_prefix)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise RegistryError(
                f"{address.uri} was published concurrently; not overwritten"
            ) from exc
        raise
    return address.uri


def list_versions(bucket: str, *, client: Any, prefix: str = DEFAULT_PREFIX) -> list[VersionInfo]:
    """Every version under the prefix, newest first (version ids sort by time)."""
    found: list[VersionInfo] = []
    for version_prefix in list_prefixes(client, bucket, f"{prefix}/"):
        version = version_prefix.rstrip("/").rsplit("/", 1)[-1]
        uri = f"s3://{bucket}/{version_prefix}"
        try:
            manifest = fetch_manifest(client, bucket, version_prefix)
        except BundleError:
            found.append(VersionInfo(version=version, uri=uri, complete=False))
            continue
        found.append(_summary(manifest, uri))
    return sorted(found, key=lambda info: info.version, reverse=True)


def _summary(manifest: Manifest, uri: str) -> VersionInfo:
    test = manifest.metrics.get("test") or {}
    return VersionInfo(
        version=manifest.version,
        uri=uri,
        complete=True,
        name=manifest.name,
        created_at=manifest.created_at,
        accuracy=test.get("accuracy"),
        auroc=test.get("auroc"),
        threshold=manifest.threshold,
        variants=tuple(sorted(manifest.variants)),
    )


def pull(
    version: str, bucket: str, out: Path, *, client: Any, prefix: str = DEFAULT_PREFIX
) -> Manifest:
    """Download one version into `out` (created; must not hold anything yet) and verify it."""
    if out.exists() and any(out.iterdir()):
        raise RegistryError(f"{out} is not empty; pull into a new directory")
    if out.exists():
        out.rmdir()
    address = VersionAddress(bucket, version, prefix)
    fetch_manifest(client, bucket, address.key_prefix)  # a clear "no such version"
    return fetch_verified(address.uri, out, client=client)


def _format(info: VersionInfo) -> str:
    if not info.complete:
        return f"{info.version}  (incomplete: no model.json; never served)"

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    variants = ",".join(info.variants) or "-"
    return (
        f"{info.version}  {info.name}  created {info.created_at}"
        f"  test accuracy {num(info.accuracy)}  auroc {num(info.auroc)}"
        f"  threshold {num(info.threshold)}  variants {variants}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_training.registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("publish", "upload a bundle directory as a new immutable version"),
        ("list", "list versions, newest first, with test metrics"),
        ("pull", "download a version and verify every file"),
    ):
        sub = commands.add_parser(name, help=help_text)
        if name == "publish":
            sub.add_argument("directory", type=Path)
        if name == "pull":
            sub.add_argument("version")
            sub.add_argument("--out", type=Path, required=True)
        if name == "list":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.add_argument("--bucket", required=True)
        sub.add_argument("--prefix", default=DEFAULT_PREFIX)
        sub.add_argument(
            "--endpoint-url", help="an S3-compatible endpoint (else AWS_ENDPOINT_URL_S3)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = s3_client(args.endpoint_url)
    try:
        if args.command == "publish":
            print(publish(args.directory, args.bucket, client=client, prefix=args.prefix))
        elif args.command == "list":
            versions = list_versions(args.bucket, client=client, prefix=args.prefix)
            if args.json:
                print(json.dumps([asdict(v) for v in versions], indent=2))
            else:
                print("\n".join(_format(v) for v in versions) or "(no versions)")
        else:
            manifest = pull(args.version, args.bucket, args.out, client=client, prefix=args.prefix)
            print(f"{args.out}: {manifest.name} {manifest.version} verified")
    except (RegistryError, BundleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: S3 request failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
