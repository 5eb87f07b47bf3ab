"""One verified bundle, one ONNX Runtime session: image bytes in, a calibrated answer out."""

from __future__ import annotations

import io
import logging
import math
import threading
import time
from dataclasses import dataclass
from time import perf_counter

import numpy as np
import onnxruntime as ort
from PIL import Image

from lambda_fn.loader import Bundle, load_bundle
from lambda_fn.manifest import FP32, Manifest
from lambda_fn.ort_session import check_session_io, create_session
from lambda_fn.settings import Settings
from lambda_fn.stem import InputSpec, aggregate, assemble_heatmap, prepare

log = logging.getLogger("aiornot.model")


class ModelUnavailable(RuntimeError):
    """No model can answer: the bundle is not loaded (or failed to), or gave no valid answer."""


class HeatmapUnavailable(ValueError):
    """A heatmap was asked of a bundle whose graph has no `cam` output."""


def sigmoid(z: np.ndarray | float) -> np.ndarray:
    """Numerically stable logistic function (no overflow warnings for large |z|)."""
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


@dataclass(frozen=True)
class Inference:
    """What the graph says about one image, before calibration."""

    logit: float  # the mean of the crops' logits
    cam: np.ndarray | None  # the crops' maps laid out like the image, when asked for
    crops: int
    timings_ms: dict[str, float]


def infer(
    session: ort.InferenceSession, data: bytes, spec: InputSpec, *, max_pixels: int, explain: bool
) -> Inference:
    """Bytes -> the stem's crops -> the graph -> one logit (and map): the serving path.

    The export's parity gate calls exactly this, so it checks the code that serves.
    """
    model_input = prepare(data, spec, max_pixels=max_pixels)
    start = perf_counter()
    outputs = session.run(["logit", "cam"] if explain else ["logit"], {"image": model_input.crops})
    inference_ms = round((perf_counter() - start) * 1000, 3)
    cam = None
    if explain:
        assert model_input.grid is not None
        cam = assemble_heatmap(np.asarray(outputs[1]), model_input.grid)
    return Inference(
        logit=aggregate(outputs[0]),
        cam=cam,
        crops=len(model_input.crops),
        timings_ms={**model_input.timings_ms, "inference": inference_ms},
    )


@dataclass(frozen=True)
class Answer:
    ai_probability: float
    label: str
    timings_ms: dict[str, float]
    heatmap: list[list[float]] | None = None


class Predictor:
    """A loaded model; `predict` is thread-safe (ONNX Runtime sessions are)."""

    def __init__(
        self,
        bundle: Bundle,
        session: ort.InferenceSession,
        *,
        from_cache: bool,
        load_ms: float,
        variant: str = FP32,
    ) -> None:
        self.bundle = bundle
        self.session = session
        self.variant = variant  # the graph serving: "fp32" (model.onnx) or a variant's name
        self.from_cache = from_cache
        self.load_ms = load_ms
        self._temperature = float(bundle.manifest.calibration.temperature)
        self._spec = bundle.manifest.input_spec()
        self._outputs = [o.name for o in bundle.manifest.outputs]

    @classmethod
    def load(cls, settings: Settings) -> Predictor:
        """Fetch, verify, open: every failure here means the model must not be served."""
        if not settings.model_uri:
            raise ValueError("MODEL_URI is not set; point it at a bundle directory or s3:// prefix")
        start = perf_counter()
        bundle = load_bundle(settings.model_uri, settings.model_cache_dir)
        variant = choose_variant(bundle.manifest, settings.model_variant)
        try:
            session, from_cache = _open(bundle, variant, settings)
        except Exception as exc:  # e.g. a runtime without the variant's kernels
            if variant == FP32:
                raise
            log.warning(
                "variant refused, serving fp32",
                extra={"variant": variant, "reason": f"{type(exc).__name__}: {exc}"},
            )
            variant = FP32
            session, from_cache = _open(bundle, variant, settings)
        predictor = cls(bundle, session, from_cache=from_cache, load_ms=0.0, variant=variant)
        predictor.warm_up()
        predictor.load_ms = (perf_counter() - start) * 1000
        return predictor

    def warm_up(self) -> None:
        """One tiny request end to end, so the first real one pays no first-run costs."""
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (128, 64, 32)).save(buffer, format="JPEG")
        self.predict(buffer.getvalue(), explain=len(self._outputs) > 1, max_pixels=32 * 32)

    def predict(self, data: bytes, *, explain: bool, max_pixels: int) -> Answer:
        """Decode, preprocess, infer; raises the contract's ImageError for bad input,
        HeatmapUnavailable or ModelUnavailable."""
        manifest = self.bundle.manifest
        if explain and len(self._outputs) < 2:
            raise HeatmapUnavailable("explain=true: this model has no heatmap output.")
        result = infer(self.session, data, self._spec, max_pixels=max_pixels, explain=explain)
        if not math.isfinite(result.logit):
            raise ModelUnavailable("The model gave no valid answer for this image.")
        probability = float(sigmoid(result.logit / self._temperature))
        heatmap = None
        if result.cam is not None:
            cam = np.nan_to_num(np.asarray(result.cam, dtype=np.float64))
            heatmap = np.round(sigmoid(cam / self._temperature), 4).tolist()
        label = manifest.labels[1] if probability >= manifest.threshold else manifest.labels[0]
        return Answer(
            ai_probability=probability,
            label=label,
            timings_ms=result.timings_ms,
            heatmap=heatmap,
        )


def choose_variant(manifest: Manifest, setting: str) -> str:
    """The graph to serve: the manifest's choice ("auto"), fp32, or a named variant.

    A named variant the bundle does not have falls back to fp32, with a warning: a setting
    left over from another bundle must not take the service down.
    """
    wanted = manifest.serving_variant if setting == "auto" else setting
    if wanted == FP32 or wanted in manifest.variants:
        return wanted
    log.warning(
        "variant not in the bundle, serving fp32",
        extra={"variant": wanted, "variants": sorted(manifest.variants)},
    )
    return FP32


def _open(bundle: Bundle, variant: str, settings: Settings) -> tuple[ort.InferenceSession, bool]:
    """A verified graph's session (from the optimised-graph cache when it holds one)."""
    path = bundle.variant_path(variant)
    session, from_cache = create_session(
        path,
        bundle.manifest.files[path.name].sha256,
        cache_dir=settings.model_cache_dir / "optimized",
        intra_op_threads=settings.intra_op_threads,
        inter_op_threads=settings.ort_inter_op_threads,
    )
    check_session_io(session, bundle.manifest)
    return session, from_cache


class ModelHolder:
    """Loads the model once per process; remembers a failure and retries it only sparingly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.predictor: Predictor | None = None
        self.error: str | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def ensure_loaded(self) -> Predictor | None:
        """The predictor, loading it if a retry is due. Blocking: call it off the event loop.

        While another thread is loading, answer at once with what there is (None: a 503)
        rather than queue every request behind a load that may hang for a timeout.
        """
        if self.predictor is not None:
            return self.predictor
        if not self._lock.acquire(blocking=False):
            return self.predictor
        try:
            retry = self.settings.model_retry_seconds
            due = self._attempted_at is None or time.monotonic() - self._attempted_at >= retry
            if self.predictor is None and due:
                self._attempted_at = time.monotonic()
                self._load()
        finally:
            self._lock.release()
        return self.predictor

    def _load(self) -> None:
        try:
            self.predictor = Predictor.load(self.settings)
        except Exception as exc:  # any failure: serve 503s and say why in the log
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model unavailable", extra={"reason": self.error})
            return
        self.error = None
        manifest = self.predictor.bundle.manifest
        log.info(
            "model loaded",
            extra={
                "model_name": manifest.name,
                "model_version": manifest.version,
                "variant": self.predictor.variant,
                "load_ms": round(self.predictor.load_ms, 1),
                "optimized_from_cache": self.predictor.from_cache,
            },
        )

    def retry_now(self) -> None:
        """Let the next request retry a failed load at once (a restored snapshot's clock and
        failure are the snapshot's, not this environment's)."""
        if self.predictor is None:
            self._attempted_at = None

    def require(self) -> Predictor:
        """The predictor, or ModelUnavailable."""
        predictor = self.ensure_loaded()
        if predictor is None:
            raise ModelUnavailable(
                "The model is not available: its bundle could not be loaded or verified. "
                "The operator should check the server log and MODEL_URI; retry later.",
            )
        return predictor
