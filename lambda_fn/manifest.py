"""The model bundle contract: the manifest's schema, reading and verifying it, the address.

A bundle is a directory (or an `s3://BUCKET/models/VERSION/` prefix) holding
`model.onnx`, `model.json` and `MODEL_CARD.md`. Every file is listed in the
manifest with its sha256 and size, and nothing is served until all of them check out.
Writing manifests and publishing live in `model_training` (the server never publishes).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lambda_fn.stem import InputSpec

FORMAT_VERSION = 2  # 2: native-resolution crops (`input.rule`); 1 resized every upload
MANIFEST_NAME = "model.json"
MODEL_NAME = "model.onnx"
FP32 = "fp32"  # the variant name of model.onnx itself
CARD_NAME = "MODEL_CARD.md"
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # a file or version name: no paths, no "..".
LABELS = ("real", "ai")  # index 1 is the positive class: the model's logit says "ai"
MODELS_PREFIX = "models"  # the registry's key prefix: s3://BUCKET/models/VERSION/


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
    labels: list[str] = Field(default_factory=lambda: list(LABELS))
    files: dict[str, FileEntry]
    input: dict[str, Any]
    outputs: list[OutputSpec]
    calibration: Calibration = Field(default_factory=Calibration)
    threshold: float = Field(ge=0.0, le=1.0)
    metrics: dict[str, Any] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    variants: dict[str, Variant] = Field(default_factory=dict)
    # The graph to serve: a key of `variants` (e.g. int8, kept only if it passed its gates),
    # or "fp32" for model.onnx. Servers may still choose fp32 (MODEL_VARIANT=fp32).
    serving_variant: str = FP32

    @model_validator(mode="after")
    def _serving_variant_exists(self) -> Manifest:
        if self.serving_variant != FP32 and self.serving_variant not in self.variants:
            raise ValueError(
                f"serving_variant {self.serving_variant!r} is not one of the variants "
                f"{sorted(self.variants)} (or {FP32!r})"
            )
        return self

    def variant_file(self, variant: str) -> str:
        """The file of a variant name ("fp32": model.onnx)."""
        return MODEL_NAME if variant == FP32 else self.variants[variant].file

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


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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


@dataclass(frozen=True)
class VersionAddress:
    """Where one published version lives: `s3://BUCKET/PREFIX/VERSION/`."""

    bucket: str
    version: str
    prefix: str = MODELS_PREFIX

    @property
    def key_prefix(self) -> str:
        """The S3 key prefix of the version's files, ending in `/`."""
        return f"{self.prefix}/{self.version}/" if self.prefix else f"{self.version}/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"

    @classmethod
    def parse(cls, uri: str) -> VersionAddress:
        """`s3://BUCKET/PREFIX/VERSION/` back into its parts, refusing anything else."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        prefix, _, version = key.strip("/").rpartition("/")
        if not uri.startswith("s3://") or not bucket or not version:
            raise BundleError(f"{uri}: expected s3://BUCKET/models/VERSION/")
        if not re.fullmatch(SAFE_NAME, version):
            raise BundleError(f"{uri}: {version!r} is not a valid version name")
        return cls(bucket=bucket, version=version, prefix=prefix)


def version_uri(bucket: str, version: str, prefix: str = MODELS_PREFIX) -> str:
    """The `MODEL_URI` of one published version."""
    return VersionAddress(bucket, version, prefix).uri
