"""Hardening fixtures: the real tiny-ResNet bundle, and a server of our own.

Our own server (not tests/lambda_fn's shared one) so that its memory figures are ours alone
and a test that floods or bombs it cannot disturb other suites. Memory figures are taken
relative to the moment of measuring (peak reset via /proc/PID/clear_refs), so sharing it
between our modules is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lambda_fn.conftest import images, resnet_bundle  # noqa: F401  (fixtures)
from tests.support.http_server import UvicornServer


def server_pid(server: UvicornServer) -> int:
    """The uvicorn process id (the server runs in a process of its own)."""
    assert server._process is not None
    return server._process.pid


def proc_status_kib(pid: int, field: str) -> int:
    """A `/proc/PID/status` figure in KiB, e.g. VmRSS (resident now) or VmHWM (peak resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@pytest.fixture(scope="session")
def hard_server(
    resnet_bundle: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[UvicornServer]:
    """The app under uvicorn with the real bundle and default limits (4 MiB, 40 MP)."""
    env = {
        "MODEL_URI": str(resnet_bundle),
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("hardening-cache")),
        "ORT_INTRA_OP_THREADS": "1",
        "MAX_BODY_BYTES": str(4 * 1024 * 1024),
        "MAX_PIXELS": "40000000",
    }
    with UvicornServer(env=env) as server:
        yield server
