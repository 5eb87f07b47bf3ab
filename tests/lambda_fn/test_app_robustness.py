"""No input produces a 500: mutated images and random bodies against the live server."""

from __future__ import annotations

import base64

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lambda_fn.conftest import FORMATS, make_image
from tests.support.http_server import UvicornServer

CONTENT_TYPES = [f"image/{s}" for s in FORMATS] + ["application/json", "multipart/form-data"]
CONTENT_TYPES += ["text/plain", "image/x-icon", ""]
EXPECTED = {200, 400, 413, 415, 422}
SEEDS = {subtype: make_image(fmt, size=(40, 30)) for subtype, fmt in FORMATS.items()}


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    """A valid small image with a few bytes overwritten and maybe truncated."""
    data = bytearray(draw(st.sampled_from(sorted(SEEDS.values()))))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


bodies = st.one_of(mutated_image(), st.binary(max_size=512))
queries = st.sampled_from(["", "?explain=true", "?explain=1", "?explain=maybe", "?x=%ff"])


def assert_contract_answer(response: httpx.Response) -> None:
    assert response.status_code in EXPECTED, response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES), query=queries)
def test_random_and_mutated_bodies_never_cause_a_server_error(
    api_server: UvicornServer, body: bytes, content_type: str, query: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(f"{api_server.url}/predict{query}", content=body, headers=headers)
    assert_contract_answer(response)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_image(), explain=st.one_of(st.booleans(), st.text(max_size=5), st.none()))
def test_mutated_images_in_json_never_cause_a_server_error(
    api_server: UvicornServer, body: bytes, explain: object
) -> None:
    payload = {"image": base64.b64encode(body).decode(), "explain": explain}
    assert_contract_answer(httpx.post(f"{api_server.url}/predict", json=payload))


def test_the_server_survives_and_logged_no_internal_error(api_server: UvicornServer) -> None:
    assert api_server.alive
    assert httpx.get(f"{api_server.url}/health").status_code == 200
    assert not [r for r in api_server.log_records() if r.get("code") == "internal_error"]
    assert not [r for r in api_server.log_records() if r.get("level") == "ERROR"]
