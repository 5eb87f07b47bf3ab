"""The registry CLI against a real S3 API (moto's server over HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lambda_fn.loader import load_bundle
from lambda_fn.manifest import BundleError, verify_bundle
from lambda_fn.stem import InputSpec
from model_training.bundle_writer import write_manifest
from model_training.registry import main
from tests.support.bundles import make_tiny_bundle
from tests.support.s3_server import S3Server, s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # fixtures used below
REPO = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_publish_then_pull_round_trips_every_file(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_tiny_bundle(tmp_path / "bundle")
    code, out, _ = _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)
    assert code == 0
    assert out.strip() == f"s3://{s3_bucket}/models/{manifest.version}/"

    code, out, err = _run(
        capsys, "pull", manifest.version, "--bucket", s3_bucket, "--out", str(tmp_path / "pulled")
    )
    assert code == 0, err
    assert verify_bundle(tmp_path / "pulled") == manifest
    for name in manifest.files:
        assert (tmp_path / "pulled" / name).read_bytes() == (
            tmp_path / "bundle" / name
        ).read_bytes()


def test_publish_uses_an_explicit_endpoint_url(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    make_tiny_bundle(tmp_path / "bundle")
    argv = ["publish", str(tmp_path / "bundle"), "--bucket", s3_bucket]
    assert main([*argv, "--endpoint-url", s3_server.endpoint_url]) == 0


def _restamp(directory: Path, version: str) -> None:
    write_manifest(
        directory,
        name="aiornot-test",
        input_spec=InputSpec(crop_size=8),
        outputs=[{"name": "logit", "shape": ["N"]}],
        calibration={},
        threshold=0.5,
        metrics={},
        lineage={},
        version=version,
    )


def test_a_second_publish_of_a_version_is_refused(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_tiny_bundle(tmp_path / "bundle")
    assert _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)[0] == 0
    key = f"models/{manifest.version}/MODEL_CARD.md"
    before = s3_server.client().head_object(Bucket=s3_bucket, Key=key)["ETag"]

    code, _, err = _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)
    assert code == 1
    assert "already exists; versions are immutable" in err

    # Different content claiming the same version is refused too, and nothing is overwritten.
    (tmp_path / "bundle" / "MODEL_CARD.md").write_text("# Changed card\n")
    _restamp(tmp_path / "bundle", manifest.version)
    code, _, err = _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)
    assert code == 1
    assert "already exists; versions are immutable" in err
    assert s3_server.client().head_object(Bucket=s3_bucket, Key=key)["ETag"] == before


def test_publish_refuses_an_unverifiable_bundle(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tiny_bundle(tmp_path / "bundle")
    (tmp_path / "bundle" / "model.onnx").write_bytes(b"not the exported graph")
    code, _, err = _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)
    assert code == 1
    assert "model.onnx: size mismatch" in err
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_list_shows_versions_newest_first_with_metrics(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = []
    for day in (1, 3, 2):
        directory = tmp_path / f"b{day}"
        make_tiny_bundle(directory)
        manifest = write_manifest(
            directory,
            name="aiornot-test",
            input_spec=InputSpec(crop_size=8),
            outputs=[{"name": "logit", "shape": ["N"]}, {"name": "cam", "shape": ["N", 8, 8]}],
            calibration={"temperature": 1.0},
            threshold=0.4,
            metrics={"test": {"accuracy": 0.9 + day / 100, "auroc": 0.95}},
            lineage={},
            now=datetime(2026, 1, day, tzinfo=UTC),
        )
        versions.append(manifest.version)
        assert main(["publish", str(directory), "--bucket", s3_bucket]) == 0
    s3_server.client().put_object(
        Bucket=s3_bucket, Key="models/29990101T000000Z-partial/x", Body=b""
    )
    capsys.readouterr()

    code, out, _ = _run(capsys, "list", "--bucket", s3_bucket, "--json")
    assert code == 0
    listed = json.loads(out)
    assert [v["version"] for v in listed] == ["29990101T000000Z-partial", *sorted(versions)[::-1]]
    assert listed[0]["complete"] is False
    assert listed[1]["accuracy"] == pytest.approx(0.93)

    code, out, _ = _run(capsys, "list", "--bucket", s3_bucket)
    assert "incomplete: no model.json" in out.splitlines()[0]
    assert "test accuracy 0.9300" in out.splitlines()[1]


def test_pull_of_a_missing_version_says_so(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys,
        "pull",
        "20990101T000000Z-0000000",
        "--bucket",
        s3_bucket,
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1
    assert "not found: no published version" in err
    assert not (tmp_path / "o").exists()


def test_pull_detects_a_corrupted_object_and_keeps_nothing(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_tiny_bundle(tmp_path / "bundle")
    assert main(["publish", str(tmp_path / "bundle"), "--bucket", s3_bucket]) == 0
    key = f"models/{manifest.version}/MODEL_CARD.md"
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_bytes()
    s3_server.client().put_object(Bucket=s3_bucket, Key=key, Body=card.replace(b"Not", b"Now"))
    capsys.readouterr()
    code, _, err = _run(
        capsys, "pull", manifest.version, "--bucket", s3_bucket, "--out", str(tmp_path / "o")
    )
    assert code == 1
    assert "MODEL_CARD.md: sha256 mismatch" in err
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging dir left behind


def test_pull_refuses_a_directory_that_is_not_empty(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("mine")
    code, _, err = _run(capsys, "pull", "v1", "--bucket", s3_bucket, "--out", str(tmp_path / "o"))
    assert code == 1
    assert "is not empty" in err


PUBLISH_THEN_DIE = """
import os, signal, sys
from pathlib import Path
from lambda_fn.s3_download import s3_client
from model_training.registry import publish
client = s3_client()
upload_file = client.upload_file
def upload_one_then_die(*args, **kwargs):
    upload_file(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
client.upload_file = upload_one_then_die
publish(Path(sys.argv[1]), sys.argv[2], client=client)
"""


def test_a_publish_killed_mid_upload_is_never_a_version_and_publishing_again_finishes_it(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL after the first file: the prefix is listed incomplete, nothing loads it, and
    the same publish run again completes the version instead of refusing it as taken."""
    manifest = make_tiny_bundle(tmp_path / "bundle")
    child = subprocess.run(
        [sys.executable, "-c", PUBLISH_THEN_DIE, str(tmp_path / "bundle"), s3_bucket],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    uri = f"s3://{s3_bucket}/models/{manifest.version}/"
    code, out, _ = _run(capsys, "list", "--bucket", s3_bucket, "--json")
    assert [(v["version"], v["complete"]) for v in json.loads(out)] == [(manifest.version, False)]
    with pytest.raises(BundleError, match=r"model\.json"):
        load_bundle(uri, tmp_path / "cache")
    code, _, err = _run(
        capsys, "pull", manifest.version, "--bucket", s3_bucket, "--out", str(tmp_path / "p")
    )
    assert code == 1 and not (tmp_path / "p").exists()

    code, out, err = _run(capsys, "publish", str(tmp_path / "bundle"), "--bucket", s3_bucket)
    assert (code, out.strip()) == (0, uri), err
    assert "finishing an interrupted publish" in err
    assert load_bundle(uri, tmp_path / "cache").manifest == manifest
