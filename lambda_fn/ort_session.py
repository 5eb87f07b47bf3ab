"""ONNX Runtime sessions with explicit threads, full graph optimisation, and a cached result.

Optimising a graph costs time on every cold start, so the optimised graph is written to
the cache directory once and reused. It is keyed on the source model's sha256, the
onnxruntime version and the CPU (ORT_ENABLE_ALL applies hardware-specific layouts), and
its own sha256 is checked before it is trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import onnxruntime as ort

from lambda_fn.manifest import MANIFEST_NAME, MODEL_NAME, BundleError, Manifest, sha256_file

log = logging.getLogger("aiornot.ort")
PROVIDERS = ["CPUExecutionProvider"]


def cpu_fingerprint() -> str:
    """Machine and CPU feature flags: an optimised graph is only valid on the same kind of CPU."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return hashlib.sha256(f"{platform.machine()}|{flags}".encode()).hexdigest()[:16]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else the platform's): what a timing ran on."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def session_options(intra_op_threads: int, inter_op_threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its hardware-specific-graph warning is handled
    # Idle pool threads sleep instead of spinning: a spinning pool steals the CPU that the
    # event loop and the next decode need (Lambda grants fractions of a vCPU below 1,769 MB).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OptimizedModelCache:
    """`<dir>/<key>.onnx` plus `<key>.json` recording what it was made from."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def key(self, model_sha256: str) -> str:
        return f"{model_sha256[:32]}-ort{ort.__version__}-{cpu_fingerprint()}"

    def lookup(self, model_sha256: str) -> Path | None:
        """The cached graph for this model, or None if absent, foreign or damaged."""
        key = self.key(model_sha256)
        path, meta_path = self.directory / f"{key}.onnx", self.directory / f"{key}.json"
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("model_sha256") == model_sha256 and sha256_file(path) == meta.get(
                "optimized_sha256"
            ):
                return path
        except (OSError, ValueError):
            return None
        log.warning("optimized model cache entry %s does not match; rebuilding", key)
        return None

    def staging_path(self, model_sha256: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f".{self.key(model_sha256)}.{os.getpid()}.onnx"

    def commit(self, model_sha256: str, staging: Path) -> None:
        """Publish atomically: a reader sees a complete entry or none."""
        key = self.key(model_sha256)
        meta = {
            "model_sha256": model_sha256,
            "optimized_sha256": sha256_file(staging),
            "onnxruntime": ort.__version__,
            "cpu": cpu_fingerprint(),
        }
        os.replace(staging, self.directory / f"{key}.onnx")
        tmp_meta = staging.with_suffix(".json")
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, self.directory / f"{key}.json")


def create_session(
    model_path: Path,
    model_sha256: str,
    *,
    cache_dir: Path,
    intra_op_threads: int,
    inter_op_threads: int = 1,
) -> tuple[ort.InferenceSession, bool]:
    """A ready session, and whether it came from the optimised-graph cache."""
    cache = OptimizedModelCache(cache_dir)
    options = session_options(intra_op_threads, inter_op_threads)
    cached = cache.lookup(model_sha256)
    if cached is not None:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), options, providers=PROVIDERS), True
        except Exception as exc:  # a damaged or incompatible entry: fall back to the source
            log.warning("cached optimized model unusable (%s); rebuilding", exc)
            options = session_options(intra_op_threads, inter_op_threads)
    try:
        staging = cache.staging_path(model_sha256)
    except OSError as exc:  # a read-only cache dir only costs the optimisation time
        log.warning("optimized model cache disabled: %s", exc)
        return ort.InferenceSession(str(model_path), options, providers=PROVIDERS), False
    options.optimized_model_filepath = str(staging)
    session = ort.InferenceSession(str(model_path), options, providers=PROVIDERS)
    try:
        cache.commit(model_sha256, staging)
    except OSError as exc:
        log.warning("could not cache the optimized model: %s", exc)
        staging.unlink(missing_ok=True)
    return session, False


def check_session_io(session: Any, manifest: Manifest) -> None:
    """Refuse an ONNX Runtime session whose graph disagrees with its manifest."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != "image":
        names = [i.name for i in inputs]
        raise BundleError(f"{MODEL_NAME}: expected one input 'image', got {names}", file=MODEL_NAME)
    size = manifest.input_spec().crop_size
    shape = list(inputs[0].shape)  # dynamic dims come back as str or None
    fixed = [d for d in shape[2:] if isinstance(d, int)]
    if len(shape) != 4 or shape[1] != 3 or any(d != size for d in fixed):
        raise BundleError(
            f"{MODEL_NAME}: input shape {shape} does not take (N, 3, {size}, {size}) images "
            f"as {MANIFEST_NAME} says",
            file=MODEL_NAME,
        )
    graph_outputs = [o.name for o in session.get_outputs()]
    wanted = [o.name for o in manifest.outputs]
    if graph_outputs != wanted:
        raise BundleError(
            f"{MODEL_NAME}: outputs {graph_outputs} differ from {MANIFEST_NAME}'s {wanted}",
            file=MODEL_NAME,
        )
