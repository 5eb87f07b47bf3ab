"""Settings, model loading once per process, the optimised-graph cache, and S3 bundles."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from lambda_fn.manifest import read_manifest
from lambda_fn.predictor import ModelHolder, Predictor
from lambda_fn.s3_download import s3_client
from lambda_fn.settings import Settings
from model_training.registry import upload_bundle
from tests.lambda_fn.conftest import make_image
from tests.support.http_server import UvicornServer
from tests.support.s3_server import s3_bucket, s3_server  # noqa: F401  (fixtures)


@pytest.mark.parametrize("memory_mb,threads", [(128, 1), (1769, 1), (3008, 2), (10240, 6)])
def test_ort_threads_follow_lambda_vcpus(memory_mb: int, threads: int) -> None:
    settings = Settings(aws_lambda_function_memory_size=memory_mb)
    assert settings.intra_op_threads == threads


def test_explicit_ort_threads_win_over_lambda_memory() -> None:
    settings = Settings(aws_lambda_function_memory_size=10240, ort_intra_op_threads=3)
    assert settings.intra_op_threads == 3


def test_settings_read_lists_and_prefixes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("API_ROOT_PATH", "prod/")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert (settings.api_root_path, settings.log_level) == ("/prod", "DEBUG")
    monkeypatch.setenv("CORS_ORIGINS", '["https://c.example"]')
    assert Settings().cors_origins == ["https://c.example"]


def test_optimised_graph_is_cached_and_reused(resnet_bundle: Path, tmp_path: Path) -> None:
    settings = Settings(model_uri=str(resnet_bundle), model_cache_dir=tmp_path)
    image = make_image("JPEG")
    first = Predictor.load(settings)
    second = Predictor.load(settings)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert len(list((tmp_path / "optimized").glob("*.onnx"))) == 1
    a = first.predict(image, explain=True, max_pixels=10**6)
    b = second.predict(image, explain=True, max_pixels=10**6)
    assert a.ai_probability == pytest.approx(b.ai_probability, abs=1e-6)


def test_a_damaged_cached_graph_is_rebuilt_not_trusted(resnet_bundle: Path, tmp_path: Path) -> None:
    settings = Settings(model_uri=str(resnet_bundle), model_cache_dir=tmp_path)
    Predictor.load(settings)
    (cached,) = (tmp_path / "optimized").glob("*.onnx")
    cached.write_bytes(b"not a model")
    again = Predictor.load(settings)
    assert again.from_cache is False
    assert again.predict(make_image("PNG"), explain=False, max_pixels=10**6).label in ("ai", "real")


def test_a_missing_model_uri_is_reported_and_retried_later(
    resnet_bundle: Path, tmp_path: Path
) -> None:
    target = tmp_path / "bundle"
    settings = Settings(model_uri=str(target), model_cache_dir=tmp_path, model_retry_seconds=0)
    holder = ModelHolder(settings)
    assert holder.ensure_loaded() is None
    assert holder.error and "does not exist" in holder.error
    shutil.copytree(resnet_bundle, target)  # the operator fixes it; no restart needed
    assert holder.ensure_loaded() is not None


def test_a_failed_load_is_not_retried_within_the_interval(tmp_path: Path) -> None:
    holder = ModelHolder(Settings(model_uri=str(tmp_path / "none"), model_retry_seconds=3600))
    holder.ensure_loaded()
    first_error = holder.error
    holder.error = None
    holder.ensure_loaded()
    assert first_error and holder.error is None  # no second attempt happened


@pytest.mark.slow
def test_server_loads_its_bundle_from_s3(
    resnet_bundle: Path,
    s3_bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    manifest = read_manifest(resnet_bundle)
    prefix = f"models/{manifest.version}/"
    upload_bundle(s3_client(), resnet_bundle, manifest, s3_bucket, prefix)
    env = {"MODEL_URI": f"s3://{s3_bucket}/{prefix}", "MODEL_CACHE_DIR": str(tmp_path)}
    with UvicornServer(env=env) as server:
        health = httpx.get(f"{server.url}/health")
        assert health.status_code == 200
        assert health.json()["model"]["version"] == manifest.version
    assert (tmp_path / manifest.version / "model.onnx").is_file()


def logit_only_copy(bundle: Path, destination: Path) -> Path:
    """The bundle with its graph's `cam` output removed: a valid model without a heatmap."""
    import onnx

    from model_training.bundle_writer import write_manifest

    manifest = read_manifest(bundle)
    destination.mkdir()
    graph = onnx.load(bundle / "model.onnx")
    kept = [output for output in graph.graph.output if output.name == "logit"]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, destination / "model.onnx")
    shutil.copy(bundle / "MODEL_CARD.md", destination / "MODEL_CARD.md")
    write_manifest(
        destination,
        name=manifest.name,
        input_spec=manifest.input_spec(),
        outputs=[o.model_dump() for o in manifest.outputs if o.name == "logit"],
        calibration=manifest.calibration.model_dump(),
        threshold=manifest.threshold,
        metrics=manifest.metrics,
        lineage=manifest.lineage.model_dump(),
    )
    return destination


def test_a_bundle_without_a_heatmap_is_served_and_explain_is_refused(
    resnet_bundle: Path, tmp_path: Path
) -> None:
    """Issue 14, D2: warm-up always asked for the heatmap, so such a bundle, though it
    passes verification, answered 503 forever."""
    bundle = logit_only_copy(resnet_bundle, tmp_path / "logit-only")
    env = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(tmp_path / "cache")}
    with UvicornServer(env=env) as server:
        image = make_image("JPEG")
        headers = {"Content-Type": "image/jpeg"}
        answer = httpx.post(f"{server.url}/predict", content=image, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        assert "heatmap" not in answer.json() or answer.json()["heatmap"] is None
        explained = httpx.post(
            f"{server.url}/predict?explain=true", content=image, headers=headers, timeout=30
        )
        assert explained.status_code == 422
        assert explained.json()["error"]["code"] == "validation_error"
