"""A stand-in for the deployed REST API in front of a Lambda function, on 127.0.0.1.

moto does not model API Gateway's stages, API keys or binary handling (see
`tests/support/local_cloud.py`), so a client such as `ops.smoke` cannot call the function
through moto. This server does what the REST API does for our `{proxy+}` integration:

- only `/<stage>/...` exists; the stage is taken off the path, as REST APIs do;
- a request without the right `x-api-key` is answered 403 `{"message": "Forbidden"}`;
- a body whose Content-Type matches a binary media type arrives base64-encoded in the event;
- the function's proxy response becomes the HTTP response (`isBase64Encoded` decoded), and a
  function error becomes 502 `{"message": "Internal server error"}`, as AWS answers.

It proves that a real client's requests reach the handler in the image as the gateway would
hand them over; it does not prove throttling, quotas or the gateway's own limits.
"""

from __future__ import annotations

import base64
import fnmatch
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.apigw_events import rest_event
from tests.support.background_http import BackgroundHTTPServer
from tests.support.lambda_rie import Invocation

Invoke = Callable[[dict[str, Any]], Invocation]


class RestGatewayStandIn(BackgroundHTTPServer):
    def __init__(
        self, invoke: Invoke, *, stage: str, api_key: str, binary_media_types: list[str]
    ) -> None:
        self.invoke = invoke
        self.stage = stage
        self.api_key = api_key
        self.binary_media_types = binary_media_types
        self.requests = 0  # how many reached the function
        super().__init__()

    @property
    def stage_url(self) -> str:
        return f"{self.url}/{self.stage}/"

    def is_binary(self, content_type: str) -> bool:
        media_type = content_type.split(";")[0].strip().lower()
        return any(fnmatch.fnmatch(media_type, pattern) for pattern in self.binary_media_types)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _message(self, status: int, message: str) -> None:
                body = json.dumps({"message": message}).encode()
                self._reply(status, body, {"Content-Type": "application/json"})

            def _forward(self) -> None:
                url = urlsplit(self.path)
                stage_prefix = f"/{gateway.stage}"
                if url.path != stage_prefix and not url.path.startswith(stage_prefix + "/"):
                    return self._message(403, "Missing Authentication Token")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("x-api-key") != gateway.api_key:
                    return self._message(403, "Forbidden")
                content_type = self.headers.get("Content-Type", "")
                event = rest_event(
                    self.command,
                    url.path.removeprefix(stage_prefix) or "/",
                    body=body if body else None,
                    headers=dict(self.headers.items()),
                    query=dict(parse_qsl(url.query)) or None,
                    stage=gateway.stage,
                    binary=gateway.is_binary(content_type),
                )
                gateway.requests += 1
                result = gateway.invoke(event)
                if result.kind != "response":
                    return self._message(502, "Internal server error")
                payload = result.payload
                raw = payload.get("body") or ""
                data = base64.b64decode(raw) if payload.get("isBase64Encoded") else raw.encode()
                headers = dict(payload.get("headers") or {})
                for key, values in (payload.get("multiValueHeaders") or {}).items():
                    headers[key] = ", ".join(values)
                self._reply(int(payload["statusCode"]), data, headers)

            do_GET = do_POST = do_OPTIONS = _forward

        return Handler
