"""One JSON log line per request, CloudWatch metrics (EMF) under Lambda, and the last-resort 500.

Logged: ids, route, status, error code, model version, timings, cold start. Never logged:
image bytes, headers (API keys travel in `x-api-key`), bodies.
"""

from __future__ import annotations

import os
import uuid
from time import perf_counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_fn.errors import error_response

SERVICE = "aiornot"
logger = Logger(service=SERVICE, use_rfc3339=True)
# The namespace is powertools' own setting (infra sets it); "aiornot" when it is unset.
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", SERVICE), service=SERVICE
)
_cold_start = True


def request_ids(scope: Scope) -> tuple[str, str | None]:
    """API Gateway's request id when behind it (else a fresh one), and Lambda's invocation id."""
    event = scope.get("aws.event") or {}
    context = scope.get("aws.context")
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    lambda_id = getattr(context, "aws_request_id", None)
    return str(gateway_id or lambda_id or uuid.uuid4().hex), lambda_id


def _outcome(status: int) -> str:
    return "ok" if status < 400 else "client_error" if status < 500 else "server_error"


class RequestLogMiddleware:
    """Pure ASGI (streams untouched): times the request, logs it, and turns any escape into 500."""

    def __init__(self, app: ASGIApp, *, emit_metrics: bool) -> None:
        self.app = app
        self.emit_metrics = emit_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        global _cold_start
        cold, _cold_start = _cold_start, False
        start = perf_counter()
        request_id, lambda_id = request_ids(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
            state["error_code"] = "internal_error"
            if not started:
                message = f"An internal error occurred; it was logged as request {request_id}."
                await error_response("internal_error", message)(scope, receive, send_with_id)
        finally:
            duration = round((perf_counter() - start) * 1000, 3)
            fields = {
                "request_id": request_id,
                "lambda_request_id": lambda_id,
                "method": scope.get("method"),
                "path": str(scope.get("path", ""))[:200],
                "status": status,
                "outcome": _outcome(status),
                "code": state.get("error_code"),
                "model_version": state.get("model_version"),
                "input_style": state.get("input_style"),
                "image_bytes": state.get("image_bytes"),
                "label": state.get("label"),
                "ai_probability": state.get("ai_probability"),
                "timings_ms": state.get("timings_ms"),
                "duration_ms": duration,
                "cold_start": cold,
            }
            logger.info("request", extra={k: v for k, v in fields.items() if v is not None})
            if self.emit_metrics:
                record_metrics(status, duration, state)


def record_metrics(status: int, duration_ms: float, state: dict[str, Any]) -> None:
    """EMF metrics, flushed by the handler's `log_metrics` at the end of each invocation."""
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=duration_ms)
    if 400 <= status < 500:
        metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    if state.get("error_code") == "model_unavailable":
        metrics.add_metric(name="ModelUnavailable", unit=MetricUnit.Count, value=1)
    timings = state.get("timings_ms") or {}
    if "inference" in timings:
        metrics.add_metric(
            name="InferenceLatency", unit=MetricUnit.Milliseconds, value=timings["inference"]
        )
    if state.get("label"):
        metrics.add_metric(name=f"Predicted_{state['label']}", unit=MetricUnit.Count, value=1)
