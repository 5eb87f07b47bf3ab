"""The task-root pruning added for size: it drops only what the server never loads."""

from __future__ import annotations

from pathlib import Path

from ops.task_root import BOTOCORE_KEEP, ROOT, botocore_prune_command, prune


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_prune_drops_ort_c_api_library_and_non_s3_api_models(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "onnxruntime/capi/libonnxruntime.so.1.32.0",
        "onnxruntime/capi/libonnxruntime_providers_shared.so",
        "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so",
        "botocore/data/endpoints.json",
        "botocore/data/ec2/2016-11-15/service-2.json.gz",
        *(f"botocore/data/{name}/2006-03-01/service-2.json.gz" for name in BOTOCORE_KEEP),
    )
    prune(tmp_path)
    capi = sorted(p.name for p in (tmp_path / "onnxruntime" / "capi").iterdir())
    assert capi == [
        "libonnxruntime_providers_shared.so",
        "onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so",
    ]
    data = sorted(p.name for p in (tmp_path / "botocore" / "data").iterdir())
    assert data == sorted([*BOTOCORE_KEEP, "endpoints.json"])


def test_dockerfile_prunes_botocore_models_as_the_assembly_does() -> None:
    dockerfile = (ROOT / "lambda_fn" / "Dockerfile").read_text()
    assert botocore_prune_command() in dockerfile
    assert "s3" in BOTOCORE_KEEP and "sts" in BOTOCORE_KEEP
