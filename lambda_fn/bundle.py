"""The model bundle contract: manifest, verification and loading, torch-free.

A bundle is a directory (or an `s3://BUCKET/models/VERSION/` prefix) holding
`model.onnx`, `model.json` and `MODEL_CARD.md`. Every file is listed in the
manifest with its sha256 and size, and nothing is served until all of them check out.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lambda_fn.stem import InputSpec

FORMAT_VERSION = 2  # 2: native-resolution crops (`input.rule`); 1 resized every upload
MANIFEST_NAME = "model.json"
MODEL_NAME = "model.onnx"
CARD_NAME = "MODEL_CARD.md"
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # a file or version name: no paths, no "..".


class BundleError(ValueError):
    """A bundle that must not be served; the message names the file and the reason."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class OutputSpec(BaseModel):
    name: str
    shape: list[str | int]


class Calibration(BaseModel):
    model_config = ConfigDict(extra="allow")
    temperature: float = Field(default=1.0, gt=0)
    ece_before: float | None = None
    ece_after: float | None = None


class Lineage(BaseModel):
    model_config = ConfigDict(extra="allow")
    git_commit: str | None = None
    wandb_run: str | None = None
    dataset: str | None = None
    split: Any = None
    config: dict[str, Any] | None = None


class Variant(BaseModel):
    """An alternative graph (e.g. int8) with whatever measurements justified keeping it."""

    model_config = ConfigDict(extra="allow")
    file: str = Field(pattern=SAFE_NAME)


class Manifest(BaseModel):
    """`model.json`: everything a server needs to trust and use the graph."""

    model_config = ConfigDict(extra="allow")
    format_version: int = FORMAT_VERSION
    name: str = Field(min_length=1)
    version: str = Field(pattern=SAFE_NAME)
    created_at: str
    labels: list[str] = Field(default_factory=lambda: ["real", "ai"])
    files: dict[str, FileEntry]
    input: dict[str, Any]
    outputs: list[OutputSpec]
    calibration: Calibration = Field(default_factory=Calibration)
    threshold: float = Field(ge=0.0, le=1.0)
    metrics: dict[str, Any] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    variants: dict[str, Variant] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _utc_iso8601(cls, value: str) -> str:
        parsed = datetime.fromisoformat(value)
        if parsed.utcoffset() is None or parsed.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
            raise ValueError(f"created_at must be UTC (end in Z or +00:00), got {value!r}")
        return value

    @field_validator("files")
    @classmethod
    def _flat_names(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in files:
            if not re.fullmatch(SAFE_NAME.strip("^$"), name):
                raise ValueError(f"file name {name!r} must be a plain name (no paths)")
        return files

    @field_validator("input")
    @classmethod
    def _valid_input(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            InputSpec.from_dict(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input spec is invalid: {exc}") from exc
        return value

    @field_validator("outputs")
    @classmethod
    def _has_logit(cls, outputs: list[OutputSpec]) -> list[OutputSpec]:
        if not outputs or outputs[0].name != "logit":
            raise ValueError("outputs must start with 'logit' (then 'cam')")
        return outputs

    @field_validator("labels")
    @classmethod
    def _binary_labels(cls, labels: list[str]) -> list[str]:
        if len(labels) != 2:
            raise ValueError(f"labels must be [negative, positive], got {labels}")
        return labels

    def input_spec(self) -> InputSpec:
        return InputSpec.from_dict(self.input)

    def dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on local disk."""

    manifest: Manifest
    directory: Path
    model_path: Path

    def variant_path(self, name: str) -> Path:
        variant = self.manifest.variants.get(name)
        if variant is None:
            raise BundleError(f"{MANIFEST_NAME}: no variant {name!r}", file=MANIFEST_NAME)
        return self.directory / variant.file


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def hash_files(directory: Path) -> dict[str, FileEntry]:
    """Hash every regular file in `directory` except the manifest itself."""
    return {
        path.name: FileEntry(sha256=sha256_file(path), bytes=path.stat().st_size)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME and not path.name.startswith(".")
    }


def make_version(content_hash: str, now: datetime | None = None) -> str:
    """A sortable, unique version id: UTC timestamp plus a short content hash."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{content_hash[:7]}"


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
    content = hashlib.sha256(
        "".join(f"{k}:{v.sha256}\n" for k, v in sorted(files.items())).encode()
    ).hexdigest()
    manifest = Manifest.model_validate(
        {
            "name": name,
            "version": version or make_version(content, now),
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": files,
            "input": input_spec.to_dict(),
            "outputs": outputs,
            "calibration": calibration,
            "threshold": threshold,
            "metrics": metrics,
            "lineage": lineage,
            "variants": variants or {},
        }
    )
    (directory / MANIFEST_NAME).write_text(manifest.dump_json())
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """Parse `model.json`, turning every failure into a BundleError naming it."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"{path}: missing (not a model bundle)", file=MANIFEST_NAME)
    raw = path.read_bytes()
    _check_format_version(path, raw)
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise BundleError(f"{path}: invalid manifest: {exc}", file=MANIFEST_NAME) from exc


def _check_format_version(path: Path, raw: bytes) -> None:
    """Refuse another format before reading the rest, with what to do about it."""
    try:
        found = json.loads(raw).get("format_version")
    except (ValueError, AttributeError):
        return  # not a JSON object: validation says so
    if found is None or found == FORMAT_VERSION:
        return
    if isinstance(found, int) and found < FORMAT_VERSION:
        raise BundleError(
            f"{path}: format_version {found} is a bundle from before native-resolution input: "
            f"it resized every upload, which erases the traces the model looks for, so this "
            f"server (format {FORMAT_VERSION}) will not serve it. Re-export the checkpoint "
            "with this version (`make export`) and publish the new bundle.",
            file=MANIFEST_NAME,
        )
    raise BundleError(
        f"{path}: format_version {found!r} is newer than this loader understands "
        f"({FORMAT_VERSION}); serve it with the version of aiornot that wrote it",
        file=MANIFEST_NAME,
    )


def verify_bundle(directory: Path) -> Manifest:
    """Check every listed file's size and sha256; refuse anything partial or altered."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"{directory}: bundle directory does not exist")
    manifest = read_manifest(directory)
    required = {MODEL_NAME} | {v.file for v in manifest.variants.values()}
    for name in sorted(required - manifest.files.keys()):
        raise BundleError(f"{directory / name}: not listed in {MANIFEST_NAME}", file=name)
    for name, entry in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{path}: missing (listed in {MANIFEST_NAME})", file=name)
        size = path.stat().st_size
        if size != entry.bytes:
            raise BundleError(
                f"{path}: size mismatch: {size} bytes on disk, {entry.bytes} in {MANIFEST_NAME} "
                "(partial or altered file)",
                file=name,
            )
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise BundleError(
                f"{path}: sha256 mismatch: {digest} on disk, {entry.sha256} in {MANIFEST_NAME} "
                "(corrupt or altered file)",
                file=name,
            )
    return manifest


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
    target = cache_dir / _version_of(uri)
    if target.exists():
        try:
            return target, verify_bundle(target)
        except BundleError:
            shutil.rmtree(target, ignore_errors=True)  # a stale or damaged cache: fetch again
    return target, fetch_verified(uri, target)


def _version_of(uri: str) -> str:
    """The last segment of an `s3://.../models/VERSION/` URI, refused unless a plain name."""
    version = uri.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(SAFE_NAME.strip("^$"), version):
        raise BundleError(f"{uri}: {version!r} is not a valid version name")
    return version


def fetch_verified(uri: str, target: Path, *, client: Any | None = None) -> Manifest:
    """Download an `s3://` bundle into `target` atomically: staged, verified, then renamed."""
    from lambda_fn import store  # boto3 only when S3 is actually used

    bucket, prefix = store.parse_s3_uri(uri)
    version = _version_of(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    try:
        manifest = store.download_bundle(bucket, prefix, staging, client=client)
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


def check_session_io(session: Any, manifest: Manifest) -> None:
    """Refuse an ONNX Runtime session whose graph disagrees with its manifest."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != "image":
        names = [i.name for i in inputs]
        raise BundleError(f"{MODEL_NAME}: expected one input 'image', got {names}", file=MODEL_NAME)
    size = manifest.input_spec().crop_size
    shape = list(inputs[0].shape)  # dynamic dims come back as str or None
    fixed = [d for d in shape[2:] if isinstance(d, int)]
    if len(shape) != 4 or shape[1] != 3 or any(d != size for d in fixed):
        raise BundleError(
            f"{MODEL_NAME}: input shape {shape} does not take (N, 3, {size}, {size}) images "
            f"as {MANIFEST_NAME} says",
            file=MODEL_NAME,
        )
    graph_outputs = [o.name for o in session.get_outputs()]
    wanted = [o.name for o in manifest.outputs]
    if graph_outputs != wanted:
        raise BundleError(
            f"{MODEL_NAME}: outputs {graph_outputs} differ from {MANIFEST_NAME}'s {wanted}",
            file=MODEL_NAME,
        )
