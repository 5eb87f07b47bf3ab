"""The handler from an assembled task root, under awslambdaric, fed API Gateway events.

The task root is built by ops/task_root.py for this interpreter (binary wheels
do not import across Python versions) and cached under build/. The runtime runs with
`python -S`, so every import resolves from the task root or the stand-in /var/runtime that
holds awslambdaric, never from the development virtualenv.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.task_root import ROOT
from tests.support.apigw_events import http_api_event, rest_event
from tests.support.lambda_rie import RuntimeApiEmulator, RuntimeProcess, copy_distributions

pytestmark = pytest.mark.slow
VERSION = f"{sys.version_info.major}{sys.version_info.minor}"
EventBuilder = Callable[..., dict[str, Any]]
SHAPES: dict[str, EventBuilder] = {"rest": rest_event, "http": http_api_event}


@pytest.fixture(scope="module")
def task_root() -> Path:
    """Assembled once, then reused while requirements are unchanged (the script decides)."""
    command = [sys.executable, "-m", "ops.task_root", "--python-version", "local"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    roots = sorted((ROOT / "build").glob(f"task-root-*-py{VERSION}"))
    assert roots, "the assembly produced no task root"
    return roots[0]


@pytest.fixture(scope="module")
def var_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = ["awslambdaric", "simplejson", "snapshot-restore-py"]
    return copy_distributions(names, tmp_path_factory.mktemp("var-runtime"))


@pytest.fixture(scope="module")
def lambda_function(
    task_root: Path,
    var_runtime: Path,
    resnet_bundle: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeApiEmulator, RuntimeProcess]]:
    env = {"POWERTOOLS_METRICS_NAMESPACE": "AiOrNot"}  # as infra deploys it (tests/infra pins it)
    with RuntimeApiEmulator() as api:
        cache = tmp_path_factory.mktemp("lambda-tmp")
        runtime = start_function(api, task_root, var_runtime, resnet_bundle, cache, env)
        try:
            yield api, runtime
        finally:
            runtime.stop()


def start_function(
    api: RuntimeApiEmulator,
    task_root: Path,
    var_runtime: Path,
    bundle: Path,
    cache: Path,
    env: dict[str, str],
) -> RuntimeProcess:
    """The handler under awslambdaric, serving `bundle`, with the deployed stage prefix."""
    base = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(cache), "API_ROOT_PATH": "/prod"}
    return RuntimeProcess(
        "lambda_fn.handler.handler",
        api.address,
        task_root=task_root,
        env=base | env,
        extra_paths=(var_runtime,),
    )


def invoke(lambda_function: tuple[RuntimeApiEmulator, RuntimeProcess], event: dict) -> dict:
    api, runtime = lambda_function
    result = api.invoke(event, timeout=120)
    assert result.kind == "response", (result.payload, "\n".join(runtime.lines[-30:]))
    assert api.init_error is None
    return result.payload


def image_event(shape: str, data: bytes, content_type: str, **kwargs: Any) -> dict:
    stage = "prod"  # REST keeps it out of `path`; an HTTP API puts it in rawPath
    headers = {"Content-Type": content_type, "x-api-key": "k-123"}
    return SHAPES[shape]("POST", "/predict", body=data, headers=headers, stage=stage, **kwargs)


def test_task_root_imports_resolve_inside_the_task_root(task_root: Path) -> None:
    code = "import fastapi, numpy, onnxruntime, PIL; print(onnxruntime.__file__, numpy.__file__)"
    env = {"PYTHONPATH": str(task_root), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert all(path.startswith(str(task_root)) for path in out.stdout.split())


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("subtype", ["jpeg", "png"])
def test_handler_predicts_images_from_api_gateway_events(
    lambda_function: tuple, images: dict[str, bytes], shape: str, subtype: str
) -> None:
    event = image_event(shape, images[subtype], f"image/{subtype}", binary=True)
    response = invoke(lambda_function, event)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model"]["name"] == "aiornot-test-tiny"
    assert 0.0 <= body["ai_probability"] <= 1.0 and body["label"] in ("ai", "real")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_handler_answers_invalid_image_for_a_bad_image(
    lambda_function: tuple, images: dict[str, bytes], shape: str
) -> None:
    truncated = images["jpeg"][: len(images["jpeg"]) // 2]
    response = invoke(lambda_function, image_event(shape, truncated, "image/jpeg", binary=True))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_image"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_handler_answers_payload_too_large_for_an_oversized_body(
    lambda_function: tuple, shape: str
) -> None:
    oversized = bytes(4 * 1024 * 1024 + 1024)  # base64 in the event: ~5.6 MB, under Lambda's 6 MB
    response = invoke(lambda_function, image_event(shape, oversized, "image/jpeg", binary=True))
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_handler_accepts_json_base64_with_explain(
    lambda_function: tuple, images: dict[str, bytes], shape: str
) -> None:
    body = json.dumps({"image": base64.b64encode(images["webp"]).decode(), "explain": True})
    response = invoke(lambda_function, image_event(shape, body.encode(), "application/json"))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["heatmap"]


def test_handler_logs_api_gateway_request_ids_and_emits_metrics(
    lambda_function: tuple, images: dict[str, bytes]
) -> None:
    event = image_event("rest", images["png"], "image/png", binary=True)
    assert invoke(lambda_function, event)["statusCode"] == 200
    _, runtime = lambda_function
    wanted = event["requestContext"]["requestId"]
    for _ in range(100):
        records = runtime.json_lines()
        logs = [r for r in records if r.get("request_id") == wanted]
        if logs:
            break
        time.sleep(0.05)
    assert logs and logs[0]["lambda_request_id"] and logs[0]["status"] == 200
    emf = [r for r in records if "_aws" in r]
    namespaces = {m["Namespace"] for r in emf for m in r["_aws"]["CloudWatchMetrics"]}
    assert namespaces == {"AiOrNot"}  # the deployed setting is honoured, not a hard-coded name
    assert any("Latency" in r for r in emf)
    assert "k-123" not in "\n".join(runtime.lines)


def test_a_snapstart_init_snapshots_a_loaded_model_and_the_restored_copy_answers(
    task_root: Path,
    var_runtime: Path,
    resnet_bundle: Path,
    images: dict[str, bytes],
    tmp_path: Path,
) -> None:
    """awslambdaric runs our hooks itself: before the snapshot (the model is loaded), then
    `restore/next`, then after the restore (fresh state), then the first invocation."""
    env = {
        "UPLOADS_BUCKET": "uploads-bucket",  # a client to re-create; never called here
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
    }
    with RuntimeApiEmulator() as api:
        runtime = start_function(api, task_root, var_runtime, resnet_bundle, tmp_path, env)
        try:
            assert api.restored.wait(timeout=120), "\n".join(runtime.lines[-30:])
            response = invoke(
                (api, runtime), image_event("rest", images["png"], "image/png", binary=True)
            )
        finally:
            runtime.stop()
    assert response["statusCode"] == 200, response
    assert api.restore_error is None
    messages = [r.get("message") for r in runtime.json_lines()]
    assert messages.index("model loaded") < messages.index("before snapshot")
    assert messages.index("before snapshot") < messages.index("after restore")
    before = next(r for r in runtime.json_lines() if r.get("message") == "before snapshot")
    assert before["model_loaded"] is True
