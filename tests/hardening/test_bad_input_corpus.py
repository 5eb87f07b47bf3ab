"""The bad-input corpus through real uvicorn: the documented status and code, never a 5xx."""

from __future__ import annotations

import httpx
import pytest

from tests.hardening.corpus import Case, build_corpus, exif_rotated_pair
from tests.support.http_server import UvicornServer

CORPUS = build_corpus()


def send(server: UvicornServer, case: Case) -> httpx.Response:
    return httpx.request(
        case.method,
        server.url + case.path,
        content=case.content or None,
        headers=case.headers,
        timeout=60,
    )


def test_the_corpus_has_at_least_forty_distinct_cases() -> None:
    assert len(CORPUS) >= 40
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_each_bad_input_gets_its_documented_status_and_code(
    hard_server: UvicornServer, case: Case
) -> None:
    response = send(hard_server, case)
    assert response.status_code < 500, response.text
    body = response.json()
    if case.either_ok_or_invalid and response.status_code == 200:
        assert body["label"] in ("ai", "real")
        return
    assert response.status_code == case.status, response.text[:500]
    if case.code is None:
        assert body["label"] in ("ai", "real") and 0.0 <= body["ai_probability"] <= 1.0
    else:
        assert body == {"error": {"code": case.code, "message": body["error"]["message"]}}
        assert "Traceback" not in body["error"]["message"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"], ids=["png-eXIf", "jpeg-APP1"])
def test_an_exif_rotated_image_predicts_exactly_like_the_upright_one(
    hard_server: UvicornServer, fmt: str
) -> None:
    upright, rotated = exif_rotated_pair(fmt)
    answers = [
        httpx.post(
            f"{hard_server.url}/predict?explain=true",
            content=data,
            headers={"content-type": content_type},
            timeout=30,
        ).json()
        for data, content_type in ((upright, "image/png"), (rotated, f"image/{fmt.lower()}"))
    ]
    assert answers[0]["ai_probability"] == answers[1]["ai_probability"]
    assert answers[0]["heatmap"] == answers[1]["heatmap"]


def test_after_the_corpus_the_server_is_healthy_and_logged_no_internal_error(
    hard_server: UvicornServer,
) -> None:
    for case in CORPUS[:5]:  # also when this test runs alone
        send(hard_server, case)
    assert hard_server.alive
    assert httpx.get(f"{hard_server.url}/health", timeout=10).status_code == 200
    records = hard_server.log_records()
    assert not [r for r in records if r.get("status", 0) >= 500 or r.get("level") == "ERROR"]
