"""Run a Lambda handler under AWS's runtime interface client (awslambdaric), without AWS.

A small Lambda Runtime API emulator (the documented endpoints `GET
/2018-06-01/runtime/invocation/next`, `POST .../invocation/{id}/response`, `.../{id}/error`,
`.../init/error`, and SnapStart's `GET .../restore/next` and `POST .../restore/error`) hands
events to the real client; `tests/support/apigw_events.py` builds the API Gateway events.

    python -m tests.support.lambda_rie --task-root build/task-root-x86_64-py311 --image cat.jpg
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.apigw_events import FUNCTION_ARN, http_api_event, rest_event
from tests.support.background_http import BackgroundHTTPServer

PREFIX = "/2018-06-01/runtime"
OUTCOMES = ("response", "error")


@dataclass
class Invocation:
    kind: str  # "response" or "error"
    payload: Any


class RuntimeApiEmulator(BackgroundHTTPServer):
    """The Lambda Runtime API on 127.0.0.1, one invocation at a time, like a real sandbox."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._results: dict[str, queue.Queue[Invocation]] = {}
        self.init_error: Any = None
        self.restored = threading.Event()  # SnapStart: the runtime asked for its restore
        self.restore_error: Any = None
        super().__init__()

    @property
    def address(self) -> str:
        """`host:port`, the form AWS_LAMBDA_RUNTIME_API takes."""
        return self.url.removeprefix("http://")

    def invoke(self, event: dict[str, Any], timeout: float = 60.0) -> Invocation:
        """Queue the event for the runtime's next poll; wait for its response or error."""
        request_id = str(uuid.uuid4())
        self._results[request_id] = queue.Queue(maxsize=1)
        self._events.put((request_id, json.dumps(event).encode()))
        try:
            return self._results[request_id].get(timeout=timeout)
        finally:
            del self._results[request_id]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == f"{PREFIX}/restore/next":  # the snapshot is taken, then
                    emulator.restored.set()  # restored at once into this same process
                    return self._reply(200, b"")
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                request_id, event = emulator._events.get()  # long poll, as Lambda does
                trace = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 30) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": trace,
                }
                self._reply(200, event, headers)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body) if body else None
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    emulator.init_error = payload
                elif parts == ["restore", "error"]:
                    emulator.restore_error = payload
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in OUTCOMES:
                    results = emulator._results.get(parts[1])
                    if results is None:
                        return self._reply(400, b'{"errorType": "InvalidRequestID"}')
                    results.put(Invocation(parts[2], payload))
                else:
                    return self._reply(404)
                self._reply(202, b'{"status": "OK"}')

        return Handler


class DrainedProcess:
    """A child whose output is drained into `lines`, so it never blocks on a full pipe."""

    def __init__(self, command: list[str], *, env: dict[str, str], cwd: Path | None = None):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)

    def json_lines(self) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            try:
                record = json.loads(line[line.index("{") :]) if "{" in line else None
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found


class RuntimeProcess(DrainedProcess):
    """`python -m awslambdaric HANDLER` in the task root, like the Lambda image's entrypoint.

    `isolated` (python -S) hides this interpreter's site-packages: imports then resolve only
    from the task root and `extra_paths` (where awslambdaric lives, as /var/runtime does).
    """

    def __init__(
        self,
        handler: str,
        runtime_api: str,
        *,
        task_root: Path,
        env: dict[str, str],
        extra_paths: tuple[Path, ...] = (),
        isolated: bool = True,
    ) -> None:
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        runtime_env = {
            **base,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "aiornot",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        paths = [str(p) for p in (task_root, *extra_paths)] + [env.get("PYTHONPATH", "")]
        runtime_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        flags = ["-S"] if isolated else []
        command = [sys.executable, *flags, "-m", "awslambdaric", handler]
        super().__init__(command, env=runtime_env, cwd=task_root)


def copy_distributions(names: list[str], dest: Path) -> Path:
    """Copy installed distributions (files only) into `dest`, e.g. a stand-in /var/runtime."""
    from importlib.metadata import distribution

    for name in names:
        dist = distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and "__pycache__" not in file.parts and ".." not in file.parts:
                target = dest / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Invoke the handler once under awslambdaric.")
    parser.add_argument("--task-root", type=Path, default=Path.cwd())
    parser.add_argument("--handler", default="lambda_fn.handler.handler")
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--content-type", default="image/jpeg")
    parser.add_argument("--shape", choices=["rest", "http"], default="rest")
    args = parser.parse_args(argv)
    build = rest_event if args.shape == "rest" else http_api_event
    event = build(
        "POST",
        "/predict",
        body=args.image.read_bytes(),
        headers={"Content-Type": args.content_type},
        binary=True,
    )
    with RuntimeApiEmulator() as api:
        runtime = RuntimeProcess(
            args.handler,
            api.address,
            task_root=args.task_root.resolve(),
            env=dict(os.environ),  # MODEL_URI and friends pass through
            isolated=False,
        )
        try:
            print(json.dumps(api.invoke(event).__dict__, indent=2))
        finally:
            runtime.stop()
            print("\n".join(runtime.lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
