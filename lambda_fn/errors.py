"""The API's error shape: every failure is `{"error": {"code", "message"}}`, never a bare 500."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

# The contract's error table: code -> HTTP status.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_image": 400,
    "bad_request": 400,
    "url_not_allowed": 400,
    "not_found": 404,
    "upload_not_found": 404,
    "uploads_disabled": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "validation_error": 422,
    "url_fetch_failed": 422,
    "model_unavailable": 503,
    "uploads_unavailable": 503,
    "internal_error": 500,
}
_CODE_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_CODE_BY_STATUS |= {415: "unsupported_media_type", 422: "validation_error"}
_CODE_BY_STATUS |= {503: "model_unavailable", 500: "internal_error"}


class ApiError(Exception):
    """A request the API refuses, carrying the contract's code and a message a person can act on."""

    def __init__(self, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS_BY_CODE[code]
        self.headers = dict(headers or {})


def error_response(
    code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one place an error body is built."""
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=STATUS_BY_CODE[code],
        headers=dict(headers or {}),
    )


def describe_validation(errors: Iterable[Mapping[str, Any]]) -> str:
    """Pydantic errors as one sentence naming each field, e.g. `explain (query): ...`."""
    parts = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = ".".join(loc[1:]) or "request"
        source = f" ({loc[0]})" if len(loc) > 1 else ""
        parts.append(f"{where}{source}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "The request has invalid values."


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    request.state.error_code = exc.code
    return error_response(exc.code, exc.message, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODE_BY_STATUS.get(status, "bad_request" if status < 500 else "internal_error")
    allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "see /docs")
    messages = {
        "not_found": f"No route {request.url.path}; see /docs for the API.",
        "method_not_allowed": f"{request.method} is not allowed on {request.url.path}; "
        f"allowed: {allow}.",
    }
    message = messages.get(code) or str(exc.detail)
    request.state.error_code = code
    return error_response(code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    request.state.error_code = "validation_error"
    return error_response("validation_error", describe_validation(exc.errors()))


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's default error bodies with the contract's."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
