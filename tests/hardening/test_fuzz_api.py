"""Schemathesis against the live app's OpenAPI schema: no 5xx, answers match the schema.

Schemathesis generates requests for every operation and media type in /openapi.json
(raw image bodies, JSON, multipart, query flags), valid and invalid; the checks assert
that none gets a server error and every response (including the error bodies) has a
documented status, content type and schema.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.http_server import UvicornServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


MAX_EXAMPLES = 20  # per operation and generation mode: 4 operations x 2 modes x 20 requests


def operations(server: UvicornServer) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_schema_and_never_5xx(
    hard_server: UvicornServer, mode: GenerationMode
) -> None:
    found = operations(hard_server)
    sent_before = len(hard_server.log_records())
    sent = 0
    assert {op.label for op in found} >= {"POST /predict", "GET /health", "GET /model"}
    for operation in found:
        if mode is GenerationMode.NEGATIVE and operation.label != "POST /predict":
            continue  # GET /health and /model take no input to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal sent
            sent += 1
            case.call_and_validate(base_url=hard_server.url, checks=CHECKS, timeout=30)

        check()
    # Hypothesis may stop early once it has covered a small input space; every request
    # it did send must have reached the server (its log line arrives asynchronously).
    assert sent >= MAX_EXAMPLES // 2
    deadline = time.monotonic() + 10
    while len(hard_server.log_records()) < sent_before + sent and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(hard_server.log_records()) >= sent_before + sent  # requests really went
