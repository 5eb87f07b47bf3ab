"""The bundle contract on local disk: manifest fields, verification, refusals that name the file."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import onnxruntime as ort
import pytest

from lambda_fn.loader import load_bundle
from lambda_fn.manifest import BundleError, Manifest, verify_bundle
from lambda_fn.ort_session import check_session_io
from lambda_fn.stem import InputSpec
from model_training.bundle_writer import bundle_version, write_manifest
from tests.support.bundles import make_tiny_bundle


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    make_tiny_bundle(tmp_path / "bundle")
    return tmp_path / "bundle"


def _edit_manifest(directory: Path, **changes: object) -> None:
    path = directory / "model.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_the_version_is_a_sortable_timestamp_plus_the_graphs_short_hash(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"graph")
    (tmp_path / "MODEL_CARD.md").write_text("cards do not change the version")
    graphs = hashlib.sha256(hashlib.sha256(b"graph").hexdigest().encode()).hexdigest()
    when = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert bundle_version(tmp_path, when) == f"20261125T120000Z-{graphs[:7]}"
    (tmp_path / "model.onnx").write_bytes(b"another graph")
    assert bundle_version(tmp_path, when) != f"20261125T120000Z-{graphs[:7]}"
    later = bundle_version(tmp_path, datetime(2026, 11, 26, tzinfo=UTC))
    assert bundle_version(tmp_path, when) < later


def test_write_manifest_lists_every_file_with_sha256_and_size(bundle_dir: Path) -> None:
    manifest = verify_bundle(bundle_dir)
    assert set(manifest.files) == {"model.onnx", "MODEL_CARD.md"}
    assert manifest.files["model.onnx"].bytes == (bundle_dir / "model.onnx").stat().st_size
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{7}", manifest.version)
    assert manifest.created_at.endswith("Z")
    assert manifest.labels == ["real", "ai"]
    assert manifest.input_spec() == InputSpec(crop_size=8)
    on_disk = json.loads((bundle_dir / "model.json").read_text())
    for key in ("format_version", "name", "files", "input", "outputs", "calibration"):
        assert key in on_disk
    assert {"threshold", "metrics", "lineage"} <= on_disk.keys()


def test_same_content_gets_the_same_hash_in_its_version(tmp_path: Path) -> None:
    first = make_tiny_bundle(tmp_path / "a")
    second = make_tiny_bundle(tmp_path / "b")
    assert first.version.split("-")[1] == second.version.split("-")[1]


def test_write_manifest_refuses_a_directory_without_model_onnx(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"model\.onnx: missing"):
        write_manifest(
            tmp_path,
            name="x",
            input_spec=InputSpec(),
            outputs=[],
            calibration={},
            threshold=0.5,
            metrics={},
            lineage={},
        )


def test_verify_refuses_a_directory_without_manifest(bundle_dir: Path) -> None:
    (bundle_dir / "model.json").unlink()
    with pytest.raises(BundleError, match=r"model\.json: missing") as info:
        verify_bundle(bundle_dir)
    assert info.value.file == "model.json"


def test_verify_refuses_a_missing_listed_file(bundle_dir: Path) -> None:
    (bundle_dir / "MODEL_CARD.md").unlink()
    with pytest.raises(BundleError, match=r"MODEL_CARD\.md: missing"):
        verify_bundle(bundle_dir)


def test_verify_refuses_a_truncated_model(bundle_dir: Path) -> None:
    model = bundle_dir / "model.onnx"
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"model\.onnx: size mismatch") as info:
        verify_bundle(bundle_dir)
    assert info.value.file == "model.onnx"


def test_verify_refuses_a_same_size_corruption(bundle_dir: Path) -> None:
    model = bundle_dir / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.onnx: sha256 mismatch"):
        verify_bundle(bundle_dir)


def test_verify_refuses_a_manifest_that_does_not_list_the_model(bundle_dir: Path) -> None:
    files = json.loads((bundle_dir / "model.json").read_text())["files"]
    del files["model.onnx"]
    _edit_manifest(bundle_dir, files=files)
    with pytest.raises(BundleError, match=r"model\.onnx: not listed"):
        verify_bundle(bundle_dir)


def test_verify_refuses_a_variant_whose_file_is_absent(bundle_dir: Path) -> None:
    _edit_manifest(bundle_dir, variants={"int8": {"file": "model.int8.onnx"}})
    with pytest.raises(BundleError, match=r"model\.int8\.onnx: not listed"):
        verify_bundle(bundle_dir)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format_version": 99}, "newer than this loader"),
        ({"created_at": "2026-11-25T12:00:00+02:00"}, "must be UTC"),
        ({"version": "../escape"}, "version"),
        ({"files": {"../x": {"sha256": "0" * 64, "bytes": 1}}}, "plain name"),
        ({"threshold": 1.5}, "threshold"),
        ({"input": {"crop_size": 0}}, "input spec"),
        ({"input": {"crop_size": 8, "mean": [0.5]}}, "input spec"),
        ({"input": {"size": 8, "resize": "shorter_side_then_center_crop"}}, "input spec"),
        ({"outputs": [{"name": "cam", "shape": ["N", 8, 8]}]}, "'logit'"),
        ({"labels": ["ai"]}, "labels"),
    ],
)
def test_verify_refuses_an_invalid_manifest(bundle_dir: Path, change: dict, reason: str) -> None:
    _edit_manifest(bundle_dir, **change)
    with pytest.raises(BundleError, match=r"model\.json") as info:
        verify_bundle(bundle_dir)
    assert reason in str(info.value)


def test_verify_refuses_a_manifest_that_is_not_json(bundle_dir: Path) -> None:
    (bundle_dir / "model.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"model\.json: invalid manifest"):
        verify_bundle(bundle_dir)


def test_load_bundle_from_a_local_directory(bundle_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(str(bundle_dir), tmp_path / "cache")
    assert bundle.model_path == bundle_dir / "model.onnx"
    assert isinstance(bundle.manifest, Manifest)
    assert not (tmp_path / "cache").exists()  # local bundles are used in place
    with pytest.raises(BundleError, match="no variant 'int8'"):
        bundle.variant_path("int8")


def test_load_bundle_reports_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(str(tmp_path / "nowhere"), tmp_path / "cache")


def test_session_matching_its_manifest_is_accepted(bundle_dir: Path) -> None:
    bundle = load_bundle(str(bundle_dir), bundle_dir)
    session = ort.InferenceSession(str(bundle.model_path), providers=["CPUExecutionProvider"])
    check_session_io(session, bundle.manifest)


def test_session_with_a_different_input_size_is_refused(tmp_path: Path) -> None:
    make_tiny_bundle(tmp_path / "b", size=8)
    _edit_manifest(tmp_path / "b", input={**InputSpec(crop_size=16).to_dict()})
    manifest = Manifest.model_validate_json((tmp_path / "b" / "model.json").read_text())
    session = ort.InferenceSession(str(tmp_path / "b" / "model.onnx"))
    with pytest.raises(BundleError, match=r"model\.onnx: input shape"):
        check_session_io(session, manifest)


def test_a_format_1_bundle_is_refused_with_what_to_do(bundle_dir: Path) -> None:
    """Format 1 resized every upload: serving it would erase the traces the model reads."""
    _edit_manifest(bundle_dir, format_version=1)
    with pytest.raises(BundleError, match="format_version 1") as info:
        verify_bundle(bundle_dir)
    assert "native-resolution" in str(info.value) and "make export" in str(info.value)
