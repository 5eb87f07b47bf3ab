"""Flagged (wrong) predictions: a CSV row plus the exact image, locally and optionally in S3."""

from __future__ import annotations

import csv
import io
import shutil
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIELDS = (
    "flag_id",
    "flagged_at",
    "image_file",
    "predicted_label",
    "ai_probability",
    "threshold",
    "model_version",
    "correct_label",
    "comment",
)
CSV_NAME = "flags.csv"


@dataclass(frozen=True)
class FlagResult:
    """Where a flag went; `s3_error` says why the S3 copy is missing when it is."""

    flag_id: str
    row: dict[str, str]
    image_path: Path
    s3_keys: tuple[str, ...] = ()
    s3_error: str | None = None


class FlagStore:
    """Appends flags to `directory/flags.csv` (images beside it); mirrors each to S3 if asked."""

    def __init__(self, directory: Path, s3_uri: str | None = None) -> None:
        self.directory = Path(directory)
        self.s3_uri = s3_uri
        self._lock = threading.Lock()  # Gradio runs handlers in worker threads

    @property
    def csv_path(self) -> Path:
        return self.directory / CSV_NAME

    def save(
        self, image: Path, prediction: dict[str, Any], correct_label: str, comment: str = ""
    ) -> FlagResult:
        """Record that `prediction` for `image` was wrong; the image is copied byte for byte."""
        flag_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        image_name = f"images/{flag_id}{Path(image).suffix.lower() or '.img'}"
        row = {
            "flag_id": flag_id,
            "flagged_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "image_file": image_name,
            "predicted_label": str(prediction.get("label", "")),
            "ai_probability": str(prediction.get("ai_probability", "")),
            "threshold": str(prediction.get("threshold", "")),
            "model_version": str((prediction.get("model") or {}).get("version", "")),
            "correct_label": correct_label,
            "comment": comment.strip(),
        }
        target = self.directory / image_name
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image, target)
            is_new = not self.csv_path.exists()
            with self.csv_path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=FIELDS)
                if is_new:
                    writer.writeheader()
                writer.writerow(row)
        if not self.s3_uri:
            return FlagResult(flag_id, row, target)
        try:
            keys = self._upload(target, image_name, row)
        except Exception as exc:  # the local copy is kept; S3 is best effort
            return FlagResult(flag_id, row, target, s3_error=f"{type(exc).__name__}: {exc}")
        return FlagResult(flag_id, row, target, s3_keys=keys)

    def _upload(self, image: Path, image_name: str, row: dict[str, str]) -> tuple[str, ...]:
        """One image and one single-row CSV per flag, so concurrent writers never collide."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise RuntimeError("boto3 is not installed; flags are kept locally only") from exc
        bucket, _, prefix = self.s3_uri.removeprefix("s3://").partition("/")  # type: ignore[union-attr]
        prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3}))
        image_key = f"{prefix}{image_name}"
        row_key = f"{prefix}rows/{row['flag_id']}.csv"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerow(row)
        s3.upload_file(str(image), bucket, image_key)
        s3.put_object(
            Bucket=bucket, Key=row_key, Body=buffer.getvalue().encode(), ContentType="text/csv"
        )
        return image_key, row_key
