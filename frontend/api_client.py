"""The HTTP client for the aiornot API: one place for auth, timeouts, retries and error bodies."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_exponential_jitter

from frontend.settings import Settings

# Gateway and cold-start answers worth another try; every other status is final.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


class ApiError(Exception):
    """A failed call: the HTTP status (None when no answer came) and the API's code and message."""

    def __init__(self, status: int | None, code: str, message: str, *, attempts: int = 1) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.attempts = status, code, message, attempts

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in TRANSIENT_STATUSES


class UploadTooLarge(Exception):
    """The file is over even the API's upload limit, so it has to be shrunk after all."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"over the API's upload limit of {max_bytes:,} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class Answer:
    """A successful response body and what it cost the caller."""

    body: dict[str, Any]
    round_trip_ms: float
    attempts: int


class ApiClient:
    """Calls the API, retrying cold starts with exponential backoff inside a total time budget."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "aiornot-frontend"
        if settings.api_key:
            self.session.headers["x-api-key"] = settings.api_key

    def predict(self, data: bytes, content_type: str, *, explain: bool = True) -> Answer:
        """POST the raw image bytes (the API's primary, base64-free input)."""
        return self.call(
            "POST",
            "/predict",
            params={"explain": "true"} if explain else None,
            data=data,
            headers={"Content-Type": content_type},
        )

    def predict_uploaded(self, data: bytes, content_type: str, *, explain: bool = True) -> Answer:
        """Over the request limit: upload to S3 with a ticket from POST /uploads, then predict
        on the key. Raises `UploadTooLarge` when the API's upload limit is smaller still."""
        start = time.monotonic()
        ticket = self.call("POST", "/uploads")
        max_bytes = int(ticket.body.get("max_bytes") or 0)
        if len(data) > max_bytes:
            raise UploadTooLarge(max_bytes)
        self.post_to_storage(ticket.body, data, content_type)
        answer = self.call(
            "POST", "/predict", json={"s3_key": ticket.body["key"], "explain": explain}
        )
        elapsed_ms = (time.monotonic() - start) * 1000
        return Answer(answer.body, elapsed_ms, ticket.attempts + answer.attempts)

    def post_to_storage(self, ticket: dict[str, Any], data: bytes, content_type: str) -> None:
        """The form POST S3 checks against the ticket's policy: its fields first, then `file`.

        A plain request, not the session: the API key is for the API, never for S3.
        """
        url = str(ticket.get("url", ""))
        if not url.startswith(("https://", "http://")):
            raise ApiError(
                None, "upload_failed", f"the API's upload ticket has no usable URL: {url!r}"
            )
        timeout = self.settings.request_timeout_s
        try:
            response = requests.post(
                url,
                data=ticket.get("fields") or {},
                files={"file": ("image", data, content_type)},
                timeout=(min(timeout, 5.0), timeout),
            )
        except requests.RequestException as exc:
            raise ApiError(None, "upload_failed", f"the upload to {url} failed: {exc}") from exc
        if not response.ok:
            raise ApiError(
                response.status_code,
                "upload_failed",
                f"storage refused the upload: {storage_error(response.text)}",
            )

    def model(self) -> Answer:
        """GET /model: the served bundle's manifest (version, data lineage, metrics)."""
        return self.call("GET", "/model")

    def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        """One logical call: transient failures are retried until the total timeout is spent."""
        settings = self.settings
        start = time.monotonic()
        deadline = start + settings.total_timeout_s
        retrying = Retrying(
            stop=stop_before_delay(settings.total_timeout_s),
            wait=wait_exponential_jitter(
                multiplier=settings.backoff_initial_s,
                max=settings.backoff_max_s,
                jitter=settings.backoff_initial_s,
            ),
            retry=retry_if_exception(lambda exc: isinstance(exc, ApiError) and exc.transient),
            reraise=True,
        )
        try:
            body = retrying(self._once, method, path, deadline, **kwargs)
        except ApiError as exc:
            exc.attempts = retrying.statistics.get("attempt_number", 1)
            raise
        elapsed_ms = (time.monotonic() - start) * 1000
        return Answer(body, elapsed_ms, retrying.statistics.get("attempt_number", 1))

    def _once(self, method: str, path: str, deadline: float, **kwargs: Any) -> dict[str, Any]:
        timeout = max(0.5, min(self.settings.request_timeout_s, deadline - time.monotonic()))
        url = self.settings.api_url + path
        try:
            response = self.session.request(
                method, url, timeout=(min(timeout, 5.0), timeout), **kwargs
            )
        except requests.Timeout as exc:
            raise ApiError(None, "timeout", f"no answer from {url} within {timeout:.0f} s") from exc
        except requests.ConnectionError as exc:
            raise ApiError(None, "unreachable", f"cannot connect to {url}: {exc}") from exc
        return parse_response(response)


def parse_response(response: requests.Response) -> dict[str, Any]:
    """The JSON body of a 2xx answer; any other answer becomes an ApiError with its code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.ok and isinstance(body, dict):
        return body
    if response.ok:
        raise ApiError(response.status_code, "bad_response", "the API answered with non-JSON")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise ApiError(response.status_code, str(error.get("code")), str(error.get("message")))
    # API Gateway's own answers (missing key, throttling, timeouts) are {"message": "..."}.
    text = body.get("message") if isinstance(body, dict) else response.text[:200]
    raise ApiError(
        response.status_code, f"http_{response.status_code}", str(text or response.reason)
    )


def storage_error(text: str) -> str:
    """S3's XML error as `Code: Message`, or the start of whatever else came back."""
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    if code:
        return f"{code.group(1)}: {message.group(1) if message else ''}".rstrip(": ")
    return text[:200] or "no reason given"
