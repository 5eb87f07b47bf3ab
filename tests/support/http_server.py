"""A real uvicorn server for tests: a subprocess on a free 127.0.0.1 port, its logs captured.

    with UvicornServer("lambda_fn.app:app", env={"MODEL_URI": str(bundle)}) as server:
        httpx.get(f"{server.url}/health")
        server.log_records()  # the JSON log lines it printed so far

uvicorn binds port 0 and the helper reads the port it announces, so parallel servers
never race for a port. The environment is the test process's plus `env`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
_ANNOUNCE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class UvicornServer:
    """Start on enter (waits until it answers), terminate on exit."""

    def __init__(
        self,
        app: str = "lambda_fn.app:app",
        *,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self.url = ""
        self.lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._port = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> UvicornServer:
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", "0"]
        command += ["--no-access-log", *self.extra_args]
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._port.wait(self.startup_timeout):
            self.__exit__()
            raise RuntimeError(f"uvicorn did not start:\n{self.output()}")
        self._wait_until_answering()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._reader:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        assert self._process and self._process.stdout
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))
            match = _ANNOUNCE.search(line)
            if match and not self.url:
                self.url = f"http://127.0.0.1:{match.group(1)}"
                self._port.set()
        self._port.set()  # the process ended: stop waiting

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.url or (self._process and self._process.poll() is not None):
                break
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=5)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"uvicorn is not answering:\n{self.output()}")

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        return "\n".join(self.lines)

    def log_records(self) -> list[dict[str, Any]]:
        """Every line of output that is a JSON object (the app's structured log)."""
        records = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records
