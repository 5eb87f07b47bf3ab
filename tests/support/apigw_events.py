"""API Gateway proxy events in AWS's documented shapes: REST API (v1) and HTTP API (v2).

`binary=True` base64-encodes the body and sets `isBase64Encoded`, as API Gateway does for
a REST API's binary media types and for any non-text body of an HTTP API.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:aiornot"


def _body_fields(body: bytes | str | None, binary: bool) -> dict[str, Any]:
    if body is None:
        return {"body": None, "isBase64Encoded": False}
    if binary:
        raw = body.encode() if isinstance(body, str) else body
        return {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    return {"body": body if isinstance(body, str) else body.decode(), "isBase64Encoded": False}


def rest_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    stage: str = "prod",
    binary: bool = False,
) -> dict[str, Any]:
    """A REST API (v1) proxy event for a `{proxy+}` resource; `binary` as binaryMediaTypes do."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": headers["Host"],
            "domainPrefix": "abc123",
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0", "apiKey": None},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "res123",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        **_body_fields(body, binary),
    }


def http_api_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    stage: str = "$default",
    binary: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event; a named stage appears in rawPath, as AWS sends it."""
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    headers.setdefault("host", "abc123.execute-api.us-east-1.amazonaws.com")
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": headers["host"],
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes[:10]).decode(),
            "routeKey": "$default",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        **_body_fields(body, binary),
    }
