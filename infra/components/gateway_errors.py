"""API Gateway's own errors, reshaped into the API contract's `{"error": {code, message}}`."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_apigateway as apigw

RT = apigw.ResponseType
# (response type, status code or None to keep the gateway's own, contract error code)
GATEWAY_ERRORS: list[tuple[apigw.ResponseType, str | None, str]] = [
    # A POST /predict without Content-Type fails the request validator before Lambda runs.
    (RT.BAD_REQUEST_PARAMETERS, "415", "unsupported_media_type"),
    (RT.BAD_REQUEST_BODY, "400", "bad_request"),
    (RT.INVALID_API_KEY, "403", "forbidden"),
    (RT.THROTTLED, "429", "throttled"),
    (RT.QUOTA_EXCEEDED, "429", "quota_exceeded"),
    (RT.REQUEST_TOO_LARGE, "413", "payload_too_large"),
    (RT.INTEGRATION_TIMEOUT, "504", "timeout"),
    (RT.DEFAULT_4_XX, None, "bad_request"),
    (RT.DEFAULT_5_XX, None, "gateway_error"),
]
MESSAGES = {
    "unsupported_media_type": "Send a Content-Type header: image/jpeg, image/png, image/webp, "
    "image/gif, image/bmp, image/tiff, application/json or multipart/form-data.",
    "forbidden": "Missing or invalid API key: send it in the x-api-key header.",
    "quota_exceeded": "This API key has used its quota for the period; try again later.",
    "throttled": "Too many requests: slow down and retry with backoff.",
}


def error_template(code: str) -> str:
    """A JSON body in the contract's shape; the gateway's message unless we have a better one."""
    message = f'"{MESSAGES[code]}"' if code in MESSAGES else "$context.error.messageString"
    return f'{{"error": {{"code": "{code}", "message": {message}}}}}'


def add_error_responses(api: apigw.RestApi, *, cors_origins: Sequence[str]) -> None:
    """Browsers can only read an error body whose response allows their origin."""
    headers = {"Content-Type": "'application/json'"}
    if len(cors_origins) == 1:  # a gateway response cannot echo one of several origins
        headers["Access-Control-Allow-Origin"] = f"'{cors_origins[0]}'"
    for response_type, status, code in GATEWAY_ERRORS:
        api.add_gateway_response(
            "Gateway" + response_type.response_type.title().replace("_", ""),
            type=response_type,
            status_code=status,
            response_headers=headers,
            templates={"application/json": error_template(code)},
        )
