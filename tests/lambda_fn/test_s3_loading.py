"""Loading bundles from a real S3 API (moto's server over HTTP): cache, verification, retries.

Publishing is model_training.registry's; these tests use its upload to set up a version."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lambda_fn import s3_download
from lambda_fn.loader import load_bundle
from lambda_fn.manifest import BundleError, VersionAddress, verify_bundle, version_uri
from model_training.registry import upload_bundle
from tests.support.bundles import make_tiny_bundle
from tests.support.s3_server import FlakyProxy, S3Server, s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # fixtures used below


def _publish(s3: S3Server, bucket: str, directory: Path, version: str | None = None) -> str:
    """Upload a bundle the way the registry does (files, then model.json)."""
    manifest = make_tiny_bundle(directory)
    address = VersionAddress(bucket, version or manifest.version)
    upload_bundle(s3.client(), directory, manifest, bucket, address.key_prefix)
    return address.uri


def test_a_version_uri_splits_into_bucket_prefix_and_version_and_back() -> None:
    address = VersionAddress.parse("s3://b/models/V")
    assert (address.bucket, address.prefix, address.version) == ("b", "models", "V")
    assert (address.key_prefix, address.uri) == ("models/V/", "s3://b/models/V/")
    assert version_uri("b", "V") == "s3://b/models/V/"
    with pytest.raises(BundleError, match="expected s3://BUCKET"):
        VersionAddress.parse("s3://only-bucket/")


def test_load_from_s3_downloads_once_into_the_cache(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    bundle = load_bundle(uri, tmp_path / "cache")
    version = bundle.manifest.version
    assert bundle.directory == tmp_path / "cache" / version
    assert bundle.model_path.read_bytes() == (tmp_path / "src" / "model.onnx").read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [version]  # no temp dirs left

    # The verified cache is reused: it loads even once the object store has lost the files.
    client = s3_server.client()
    for key in ("model.onnx", "model.json", "MODEL_CARD.md"):
        client.delete_object(Bucket=s3_bucket, Key=f"models/{version}/{key}")
    assert load_bundle(uri, tmp_path / "cache").manifest == bundle.manifest


def test_a_damaged_cache_is_fetched_again(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    bundle = load_bundle(uri, tmp_path / "cache")
    bundle.model_path.write_bytes(b"garbage")
    again = load_bundle(uri, tmp_path / "cache")
    assert again.model_path.read_bytes() == (tmp_path / "src" / "model.onnx").read_bytes()


def test_a_corrupted_object_is_refused_naming_the_file(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    address = VersionAddress.parse(uri)
    original = (tmp_path / "src" / "model.onnx").read_bytes()
    corrupt = bytes([original[0] ^ 0xFF]) + original[1:]
    s3_server.client().put_object(
        Bucket=address.bucket, Key=address.key_prefix + "model.onnx", Body=corrupt
    )
    with pytest.raises(BundleError, match=r"model\.onnx: sha256 mismatch") as info:
        load_bundle(uri, tmp_path / "cache")
    assert info.value.file == "model.onnx"
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-verified is kept


def test_a_missing_object_is_refused_naming_the_file(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    address = VersionAddress.parse(uri)
    s3_server.client().delete_object(
        Bucket=address.bucket, Key=address.key_prefix + "MODEL_CARD.md"
    )
    with pytest.raises(BundleError, match=r"MODEL_CARD\.md: download failed"):
        load_bundle(uri, tmp_path / "cache")


def test_a_missing_version_is_reported_clearly(s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/models/20990101T000000Z-0000000/"
    with pytest.raises(BundleError, match="not found: no published version") as info:
        load_bundle(uri, tmp_path / "cache")
    assert "model.json" in str(info.value)


def test_a_version_that_is_not_a_plain_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "keep.txt").write_text("outside the cache")
    with pytest.raises(BundleError, match="not a valid version name"):
        load_bundle("s3://bucket/models/../", tmp_path / "cache")
    assert (tmp_path / "keep.txt").exists()


def test_a_missing_bucket_is_reported_clearly(s3_bucket: str, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="NoSuchBucket"):
        load_bundle("s3://no-such-bucket-here/models/V/", tmp_path / "cache")


def test_a_manifest_for_another_version_is_refused(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src", version="20000101T000000Z-aaaaaaa")
    with pytest.raises(BundleError, match="does not match the URI's version"):
        load_bundle(uri, tmp_path / "cache")


def test_transient_503s_are_retried_by_botocore(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    with FlakyProxy(s3_server.endpoint_url, failures=2) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint_url)
        bundle = load_bundle(uri, tmp_path / "cache")
    assert bundle.manifest.files
    first_three = [status for _, _, status in proxy.requests[:3]]
    assert first_three == [503, 503, 0]  # two refusals, then the same request went through
    assert proxy.requests[0][:2] == proxy.requests[2][:2]


def test_without_retries_a_transient_503_fails_the_load(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    monkeypatch.setenv("AIORNOT_S3_RETRIES", "0")
    with FlakyProxy(s3_server.endpoint_url, failures=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint_url)
        with pytest.raises(BundleError, match="SlowDown"):
            load_bundle(uri, tmp_path / "cache")


def test_a_published_manifest_is_never_overwritten(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    uri = _publish(s3_server, s3_bucket, tmp_path / "src")
    address = VersionAddress.parse(uri)
    manifest = verify_bundle(tmp_path / "src")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        upload_bundle(
            s3_server.client(), tmp_path / "src", manifest, address.bucket, address.key_prefix
        )


def test_timeouts_and_retries_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIORNOT_S3_CONNECT_TIMEOUT", "1.5")
    monkeypatch.setenv("AIORNOT_S3_READ_TIMEOUT", "2")
    monkeypatch.setenv("AIORNOT_S3_RETRIES", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config = s3_download.s3_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 2.0)
    assert config.retries["total_max_attempts"] == 2  # the first try and one retry
