"""The Lambda entry point: the FastAPI app behind Mangum (API Gateway REST v1 and HTTP API v2)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from lambda_fn import snapstart
from lambda_fn.app import app
from lambda_fn.observability import metrics

# Load once per container, in Lambda's init phase rather than inside the first request.
app.state.models.ensure_loaded()
# With SnapStart, init ends in a snapshot: the hooks make each restored copy its own.
snapstart.register(app.state.models, app.state.uploads)

# Lifespan off: Mangum would run it on every invocation. API_ROOT_PATH (the stage) is the
# app's concern, so the same setting works behind any proxy.
asgi = Mangum(app, lifespan="off")


@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asgi(event, context)
