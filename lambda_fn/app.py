"""The HTTP API (FastAPI): the same app under uvicorn locally and under Mangum on Lambda."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from time import perf_counter
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lambda_fn.errors import error_response, install_error_handlers
from lambda_fn.image_contract import ImageError
from lambda_fn.inputs import JSON_TYPE, MULTIPART_TYPE, RAW_MEDIA_TYPES, read_image_request
from lambda_fn.manifest import Manifest
from lambda_fn.observability import RequestLogMiddleware, logger
from lambda_fn.predictor import HeatmapUnavailable, ModelHolder, ModelUnavailable
from lambda_fn.schemas import (
    ErrorBody,
    Health,
    ModelRef,
    Prediction,
    PredictJson,
    Timings,
    UploadTicket,
)
from lambda_fn.settings import Settings
from lambda_fn.uploads import UploadError, UploadStore
from lambda_fn.url_fetch import UrlFetchError, fetch_image

DESCRIPTION = (
    "Is this image AI-generated? POST one image to /predict as raw bytes, JSON base64, "
    "a JSON image_url (fetched from public https hosts only) or multipart; every answer "
    "names the model version that made it. Images over the request limit go to S3 first: "
    'POST /uploads, POST the file to the URL it returns, then POST /predict {"s3_key": key}.'
)


def _errors(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": text} for status, text in pairs}


COMMON_ERRORS = _errors(
    (404, "`not_found`: unknown path"),
    (405, "`method_not_allowed`: wrong method"),
    (500, "`internal_error`: a bug; never expected, always logged"),
)
UNAVAILABLE = _errors((503, "`model_unavailable`: the bundle could not be loaded or verified"))
UPLOADS_DISABLED = "`uploads_disabled`: this server has no upload bucket (UPLOADS_BUCKET)"
PREDICT_ERRORS = _errors(
    (
        400,
        "`invalid_image` (undecodable, truncated, empty), `bad_request` (bad JSON/base64) "
        "or `url_not_allowed` (image_url's scheme, host or address refused)",
    ),
    (
        404,
        f"`upload_not_found` (no object at s3_key: never uploaded, or expired) or "
        f"{UPLOADS_DISABLED}",
    ),
    (413, "`payload_too_large` (body or upload over its byte limit) or `image_too_large` (pixels)"),
    (415, "`unsupported_media_type`: content type or image format not accepted"),
    (
        422,
        "`validation_error` (a well-formed request with invalid values) or "
        "`url_fetch_failed` (image_url could not be fetched: DNS, connection, HTTP status, "
        "redirects, timeout)",
    ),
    (
        503,
        "`model_unavailable` (the bundle could not be loaded or verified) or "
        "`uploads_unavailable` (the upload store could not be read)",
    ),
)
UPLOAD_ERRORS = _errors(
    (404, UPLOADS_DISABLED),
    (503, "`uploads_unavailable`: the upload could not be signed"),
)
BINARY = {"schema": {"type": "string", "format": "binary"}}
ABSOLUTE_PATH = re.compile(r"^(/|~|[A-Za-z]:[\\/])")  # POSIX, home, Windows
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "description": "One image: raw bytes, JSON (base64, image_url or s3_key) or multipart",
        "content": {
            **{media_type: BINARY for media_type in RAW_MEDIA_TYPES},
            JSON_TYPE: {"schema": PredictJson.model_json_schema()},
            MULTIPART_TYPE: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the model loads once, in the lifespan (or by the Lambda handler at init)."""
    settings = settings or Settings()
    logger.setLevel(settings.log_level)
    models = ModelHolder(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(models.ensure_loaded)
        yield

    app = FastAPI(
        title="aiornot",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=COMMON_ERRORS,
    )
    # The API Gateway stage (/prod) as FastAPI's own root path: routes match with or without
    # it (REST events omit it, HTTP API events keep it) and /docs links to /prod/openapi.json.
    # Set on the app as `FastAPI(root_path=...)` sets it: since FastAPI 0.165 that parameter
    # warns in favour of the server's root path, and Mangum, the server here, has none.
    app.root_path = settings.api_root_path
    app.state.settings = settings
    app.state.models = models
    install_error_handlers(app)
    domain_errors = (ImageError, HeatmapUnavailable, ModelUnavailable, UrlFetchError, UploadError)
    for domain_error in domain_errors:
        app.add_exception_handler(domain_error, _domain_error)
    uploads = (
        UploadStore(
            settings.uploads_bucket,
            max_bytes=settings.uploads_max_bytes,
            expires_in=settings.uploads_expires_s,
        )
        if settings.uploads_bucket
        else None
    )
    app.state.uploads = uploads
    _add_routes(app, settings, models, uploads)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key"],
        )
    app.add_middleware(RequestLogMiddleware, emit_metrics=settings.in_lambda)
    return app


def error_code(exc: Exception) -> str:
    """The one place a domain failure becomes the contract's error code (and so its status)."""
    if isinstance(exc, ImageError):
        return (
            exc.code
            if exc.code in ("image_too_large", "unsupported_media_type")
            else "invalid_image"
        )
    if isinstance(exc, HeatmapUnavailable):
        return "validation_error"
    if isinstance(exc, ModelUnavailable):
        return "model_unavailable"
    if isinstance(exc, UrlFetchError | UploadError):
        return exc.code
    raise TypeError(f"not a domain error: {exc!r}") from exc


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    code = error_code(exc)
    request.state.error_code = code
    return error_response(code, str(exc))


def _require_uploads(uploads: UploadStore | None) -> UploadStore:
    if uploads is None:
        raise UploadError(
            "uploads_disabled",
            "This server takes no uploads (UPLOADS_BUCKET is not set); send the image in the "
            "request instead, up to the request limit.",
        )
    return uploads


def _add_routes(
    app: FastAPI, settings: Settings, models: ModelHolder, uploads: UploadStore | None
) -> None:
    @app.post(
        "/predict",
        response_model=Prediction,
        response_model_exclude_none=True,
        responses=PREDICT_ERRORS,
        openapi_extra=PREDICT_BODY,
        summary="Classify one image as AI-generated or real",
    )
    async def predict(
        request: Request,
        explain: Annotated[bool, Query(description="Add the class-activation heatmap")] = False,
    ) -> Prediction:
        start = perf_counter()
        # A (re)load can wait for S3 timeouts: never on the event loop, which serves everyone.
        predictor = models.predictor
        if predictor is None:
            predictor = await run_in_threadpool(models.require)
        manifest = predictor.bundle.manifest
        request.state.model_version = manifest.version
        image = await read_image_request(request, settings.max_body_bytes)
        if image.url is not None:  # blocking network I/O: off the event loop
            data = await run_in_threadpool(fetch_image, image.url, settings.fetch_policy())
            image = replace(image, data=data)
        elif image.s3_key is not None:
            data = await run_in_threadpool(_require_uploads(uploads).read, image.s3_key)
            image = replace(image, data=data)
        request.state.input_style = image.style
        request.state.image_bytes = len(image.data)
        # Inline, not in a worker thread: the work is CPU-bound and already parallel inside
        # ONNX Runtime, Lambda sends one request at a time, and the thread hop cost ~5 ms
        # (a GIL switch interval) on a busy machine - more than the tiny model's inference.
        answer = predictor.predict(
            image.data, explain=explain or image.explain, max_pixels=settings.max_pixels
        )
        timings = {**answer.timings_ms, "total": round((perf_counter() - start) * 1000, 3)}
        request.state.timings_ms = timings
        request.state.label = answer.label
        request.state.ai_probability = answer.ai_probability
        return Prediction(
            label=answer.label,
            ai_probability=answer.ai_probability,
            threshold=manifest.threshold,
            model=ModelRef(name=manifest.name, version=manifest.version),
            heatmap=answer.heatmap,
            timings_ms=Timings(**timings),
        )

    @app.post(
        "/uploads",
        response_model=UploadTicket,
        responses=UPLOAD_ERRORS,
        summary="Sign an S3 upload for an image over the request limit",
    )
    def new_upload() -> UploadTicket:
        ticket = _require_uploads(uploads).new_ticket()
        return UploadTicket(
            key=ticket.key,
            url=ticket.url,
            fields=ticket.fields,
            expires_in=ticket.expires_in,
            max_bytes=ticket.max_bytes,
        )

    @app.get("/health", response_model=Health, responses=UNAVAILABLE, summary="Readiness")
    def health() -> Health:
        manifest = models.require().bundle.manifest
        return Health(model=ModelRef(name=manifest.name, version=manifest.version))

    @app.get("/model", response_model=Manifest, responses=UNAVAILABLE, summary="The manifest")
    def model() -> Manifest:
        predictor = models.require()
        served = {**predictor.bundle.manifest.model_dump(), "serving_variant": predictor.variant}
        return Manifest.model_validate(without_local_paths(served))


def without_local_paths(value: Any) -> Any:
    """Absolute paths recorded on the training machine become their last component."""
    if isinstance(value, dict):
        return {key: without_local_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_local_paths(item) for item in value]
    if isinstance(value, str) and ABSOLUTE_PATH.match(value):
        return re.split(r"[\\/]", value.rstrip("\\/"))[-1] or "<path>"
    return value


app = create_app()
