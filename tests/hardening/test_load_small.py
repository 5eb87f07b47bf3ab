"""A small version of `make load-test` (bench/load_test.py): 500 requests at concurrency 16."""

from __future__ import annotations

import pytest

from bench.load_test import run_load
from tests.hardening.conftest import server_pid
from tests.support.http_server import UvicornServer


@pytest.mark.slow
def test_five_hundred_concurrent_requests_all_succeed_with_bounded_memory(
    hard_server: UvicornServer,
) -> None:
    result = run_load(
        hard_server.url, requests=500, concurrency=16, pid=server_pid(hard_server), warmup=100
    )
    print(f"load: {result}")
    assert result.errors == 0, result.error_samples
    assert result.rss_growth is not None and result.rss_growth <= 0.10
    assert hard_server.alive
