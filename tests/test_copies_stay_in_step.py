"""Copies kept on purpose, pinned to their source so they cannot drift (issue 13).

The frontend ships alone as a Space and talks HTTP only, so it keeps its own list of the
formats the API accepts; infra's settings validate CORS origins at synth time while the
server only parses them. Each copy must agree with the original on everything they share.
"""

from __future__ import annotations

import pytest

from frontend.imaging import API_FORMATS
from infra.settings import Settings as InfraSettings
from lambda_fn.image_contract import ALLOWED_FORMATS
from lambda_fn.settings import Settings as ServingSettings


def test_the_frontend_knows_exactly_the_formats_the_api_accepts() -> None:
    assert API_FORMATS == ALLOWED_FORMATS


@pytest.mark.parametrize(
    "written",
    ["", "*", "https://a.example", "https://a.example, http://b.example:8080,",
     '["https://a.example", "https://b.example"]'],
)  # fmt: skip
def test_infra_and_the_server_read_cors_origins_the_same_way(written: str) -> None:
    assert InfraSettings(cors_origins=written).cors_origins == (
        ServingSettings(cors_origins=written).cors_origins
    )
