"""Flagged predictions land in a CSV with the exact image, and in S3 when configured."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from frontend.flagging import FIELDS, FlagStore
from tests.support.s3_server import S3Server

PREDICTION = {
    "label": "ai",
    "ai_probability": 0.91,
    "threshold": 0.5,
    "model": {"name": "aiornot-test", "version": "20260101T000000Z-abc1234"},
}


def image_file(tmp_path: Path, name: str = "upload.png", payload: bytes = b"\x89PNG fake") -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def test_flags_append_csv_rows_and_keep_each_image_byte_for_byte(tmp_path: Path) -> None:
    store = FlagStore(tmp_path / "flags")
    first = store.save(image_file(tmp_path, "a.PNG", b"one"), PREDICTION, "real", " wrong ")
    second = store.save(image_file(tmp_path, "b.jpg", b"two"), PREDICTION, "real")
    with store.csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["flag_id"] for r in rows] == [first.flag_id, second.flag_id]
    assert list(rows[0]) == list(FIELDS)
    assert rows[0] | {"flag_id": "", "flagged_at": ""} == {
        "flag_id": "",
        "flagged_at": "",
        "image_file": f"images/{first.flag_id}.png",
        "predicted_label": "ai",
        "ai_probability": "0.91",
        "threshold": "0.5",
        "model_version": "20260101T000000Z-abc1234",
        "correct_label": "real",
        "comment": "wrong",
    }
    assert (store.directory / rows[0]["image_file"]).read_bytes() == b"one"
    assert (store.directory / rows[1]["image_file"]).read_bytes() == b"two"
    assert first.s3_keys == () and first.s3_error is None


def test_flags_are_mirrored_to_s3_as_image_plus_one_row_csv(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    store = FlagStore(tmp_path, s3_uri=f"s3://{s3_bucket}/flags/")
    result = store.save(image_file(tmp_path), PREDICTION, "real", "a photo I took")
    assert result.s3_error is None
    image_key, row_key = result.s3_keys
    assert image_key == f"flags/images/{result.flag_id}.png"
    assert row_key == f"flags/rows/{result.flag_id}.csv"
    s3 = s3_server.client()
    assert s3.get_object(Bucket=s3_bucket, Key=image_key)["Body"].read() == b"\x89PNG fake"
    body = s3.get_object(Bucket=s3_bucket, Key=row_key)["Body"].read().decode()
    (row,) = list(csv.DictReader(io.StringIO(body)))
    assert row == {k: v for k, v in result.row.items()}
    assert store.csv_path.exists()  # the local copy is always written too


def test_an_s3_failure_keeps_the_local_flag_and_says_why(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    store = FlagStore(tmp_path, s3_uri=f"s3://{s3_bucket}-missing/flags")
    result = store.save(image_file(tmp_path), PREDICTION, "real")
    assert result.s3_keys == () and "NoSuchBucket" in (result.s3_error or "")
    assert result.image_path.read_bytes() == b"\x89PNG fake"
    assert len(store.csv_path.read_text().splitlines()) == 2
