"""Validate data before training: every row with pydantic, then the dataset as a whole.

Bad rows are named by id with the reason. Policy `fail` (default) raises one error
listing all of them; `skip` drops them and reports the count. Dataset checks: class
balance, duplicate ids, duplicate images, and leakage across the splits.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from lambda_fn.image_contract import ImageError, decode_image
from model_training.data.records import DataError, ImageRecord

BadRowPolicy = Literal["fail", "skip"]
DEFAULT_MIN_SIZE = 32  # pixels on the shorter side
IMBALANCE_WARNING = 0.25  # warn when the minority class is below this fraction


class ImageRow(BaseModel):
    """One row as training needs it: an id, a binary label, a decodable RGB image."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    label: Literal[0, 1]
    image: bytes = Field(repr=False)

    @field_validator("image")
    @classmethod
    def _decodes_to_rgb_of_min_size(cls, value: bytes, info: ValidationInfo) -> bytes:
        min_size = (info.context or {}).get("min_size", DEFAULT_MIN_SIZE)
        try:  # the contract's decoder: upright RGB, or ImageError
            image = decode_image(value)
        except ImageError as exc:
            raise ValueError(f"{exc.code}: {exc.message}") from None
        if min(image.size) < min_size:
            width, height = image.size
            raise ValueError(f"image is {width}x{height}; both sides must be >= {min_size} px")
        return value


class BadRow(BaseModel):
    row: int
    id: str
    reason: str


class ClassCounts(BaseModel):
    n: int = 0
    real: int = 0
    ai: int = 0

    @classmethod
    def of(cls, records: list[ImageRecord]) -> ClassCounts:
        counts = Counter(record.label for record in records)
        return cls(n=len(records), real=counts[0], ai=counts[1])


class ValidationReport(BaseModel):
    """What validation found; `render()` is what people read."""

    source: str
    policy: BadRowPolicy
    rows: int
    kept: int
    bad_rows: list[BadRow] = []
    classes: ClassCounts = ClassCounts()
    duplicate_ids: int = 0
    duplicate_images: int = 0
    splits: dict[str, ClassCounts] = {}
    leakage: list[str] = []
    warnings: list[str] = []

    def render(self) -> str:
        lines = [
            f"Data validation: {self.source} (bad rows policy: {self.policy})",
            f"  rows: {self.rows}, kept: {self.kept}, bad: {len(self.bad_rows)}",
            f"  classes kept: real {self.classes.real}, ai {self.classes.ai}",
            f"  duplicate ids: {self.duplicate_ids}; rows duplicating another image: "
            f"{self.duplicate_images} (kept in one split)",
        ]
        if self.bad_rows:
            lines.append("  bad rows:")
            lines += [f"    - {bad.id} (row {bad.row}): {bad.reason}" for bad in self.bad_rows]
        if self.splits:
            parts = [f"{k} {v.n} (real {v.real}, ai {v.ai})" for k, v in self.splits.items()]
            lines.append(f"  splits: {' | '.join(parts)}")
            lines.append(f"  leakage across splits: {'; '.join(self.leakage) or 'none'}")
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


class DataValidationError(DataError):
    """Validation refused the data; the message lists every problem."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report


def validate_records(
    records: list[ImageRecord],
    *,
    source: str,
    policy: BadRowPolicy = "fail",
    min_size: int = DEFAULT_MIN_SIZE,
    workers: int = 1,
) -> tuple[list[ImageRecord], ValidationReport]:
    """Check every row, then the whole; return the kept rows (with sha256) and the report."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # decoders release the GIL
        verdicts = list(pool.map(lambda r: _check_row(r, min_size), records))
    bad: dict[int, str] = {i: reason for i, (_, reason) in enumerate(verdicts) if reason}
    first_row: dict[str, int] = {}
    for i, record in enumerate(records):
        if record.id in first_row:
            bad.setdefault(i, f"duplicate id (first seen at row {first_row[record.id]})")
        else:
            first_row[record.id] = i
    duplicate_ids = len(records) - len(first_row)
    by_content: dict[str, list[int]] = defaultdict(list)
    for i, (digest, _) in enumerate(verdicts):
        if digest and i not in bad:
            by_content[digest].append(i)
    for rows in by_content.values():
        if len({records[i].label for i in rows}) > 1:
            ids = ", ".join(records[i].id for i in rows)
            bad.update({i: f"same image as [{ids}] with conflicting labels" for i in rows})
    kept = [
        replace(record, sha256=verdicts[i][0]) for i, record in enumerate(records) if i not in bad
    ]
    report = ValidationReport(
        source=source,
        policy=policy,
        rows=len(records),
        kept=len(kept),
        bad_rows=[BadRow(row=i, id=records[i].id, reason=bad[i]) for i in sorted(bad)],
        classes=ClassCounts.of(kept),
        duplicate_ids=duplicate_ids,
        duplicate_images=sum(len(rows) - 1 for rows in by_content.values() if len(rows) > 1),
    )
    _check_dataset(report)
    return kept, report


def _check_row(record: ImageRecord, min_size: int) -> tuple[str | None, str | None]:
    """(sha256, None) for a good row, (sha256 or None, reason) for a bad one."""
    try:
        data = record.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc}"
    digest = hashlib.sha256(data).hexdigest()
    try:
        payload = {"id": record.id, "label": record.label, "image": data}
        ImageRow.model_validate(payload, context={"min_size": min_size})
    except ValidationError as exc:
        reasons = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        return digest, "; ".join(reasons)
    return digest, None


def _check_dataset(report: ValidationReport) -> None:
    """Raise for unusable data (policy `fail` with bad rows, or a class missing); warn on skew."""
    fix = (
        "Fix or remove these rows, or drop them with the bad-rows policy 'skip' "
        "(training: --data.dataset.bad_rows=skip; validate: --bad-rows skip)."
    )
    if report.bad_rows and report.policy == "fail":
        message = f"{len(report.bad_rows)} bad row(s) in {report.source}. {fix}"
        raise DataValidationError(f"{message}\n{report.render()}", report)
    if min(report.classes.real, report.classes.ai) == 0:
        message = f"{report.source} must hold both classes (label 0 = real, 1 = AI) after checks"
        raise DataValidationError(f"{message}.\n{report.render()}", report)
    minority = min(report.classes.real, report.classes.ai) / report.classes.n
    if minority < IMBALANCE_WARNING:
        report.warnings.append(f"classes are imbalanced: the minority is {minority:.1%}")


def check_splits(report: ValidationReport, splits: dict[str, list[ImageRecord]]) -> None:
    """Record split sizes; raise if any id, image or group appears in more than one split."""
    report.splits = {name: ClassCounts.of(rows) for name, rows in splits.items()}
    for key in ("id", "sha256", "group"):
        owners: dict[object, set[str]] = defaultdict(set)
        for name, rows in splits.items():
            for record in rows:
                if getattr(record, key) is not None:
                    owners[getattr(record, key)].add(name)
        shared = sorted(str(value) for value, names in owners.items() if len(names) > 1)
        if shared:
            report.leakage.append(f"{len(shared)} {key}(s) in several splits, e.g. {shared[:3]}")
    for name, counts in report.splits.items():
        if counts.n and min(counts.real, counts.ai) == 0:
            report.warnings.append(f"split {name!r} holds only one class")
    if report.leakage:
        raise DataValidationError(f"split leakage:\n{report.render()}", report)
