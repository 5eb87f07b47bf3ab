"""Decompression bombs are refused before their pixels exist: the server's peak RSS proves it.

`/proc/PID/clear_refs` with "5" resets the peak resident set (VmHWM) of the server process;
we then send the bomb and read the new peak. Decoding would need side x side bytes (L) and
3x that once converted to RGB; the refusal must cost a small fraction of even one copy.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.hardening.conftest import proc_status_kib, server_pid
from tests.hardening.corpus import png_bomb
from tests.support.http_server import UvicornServer

PEAK_GROWTH_LIMIT_KIB = 32 * 1024  # 32 MiB; one decoded 7000 x 7000 grey copy is 47 MiB


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_growth_kib(server: UvicornServer, body: bytes) -> tuple[int, httpx.Response]:
    """Peak RSS above the current RSS while the server handles one request."""
    pid = server_pid(server)
    httpx.get(f"{server.url}/health", timeout=10)
    reset_peak(pid)
    before = proc_status_kib(pid, "VmRSS")
    response = httpx.post(
        f"{server.url}/predict", content=body, headers={"content-type": "image/png"}, timeout=60
    )
    return proc_status_kib(pid, "VmHWM") - before, response


@pytest.mark.parametrize(
    "side",
    [20_000, 7_000],  # 400 MP: Pillow's own bomb error; 49 MP: only our 40 MP limit stops it
    ids=["400-megapixels", "49-megapixels"],
)
def test_a_png_bomb_is_refused_before_its_pixels_are_allocated(
    hard_server: UvicornServer, side: int
) -> None:
    bomb = png_bomb(side)
    growth, response = peak_growth_kib(hard_server, bomb)
    print(f"bomb {side}x{side}: {len(bomb):,} bytes, server peak RSS growth {growth:,} KiB")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"
    assert growth < PEAK_GROWTH_LIMIT_KIB


def test_the_measurement_sees_a_real_decode(hard_server: UvicornServer) -> None:
    """Control: an allowed 6000 x 6000 PNG (36 MP) does raise the peak by at least one copy."""
    growth, response = peak_growth_kib(hard_server, png_bomb(6_000))
    print(f"allowed 6000x6000: server peak RSS growth {growth:,} KiB")
    assert response.status_code == 200
    assert growth > 6_000 * 6_000 // 1024
