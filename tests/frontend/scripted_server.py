"""A real HTTP server that plays back scripted answers, for testing the client's retries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.background_http import BackgroundHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer(BackgroundHTTPServer):
    """Answers request i with script[i] (the last entry repeats); records what it received."""

    script: list[tuple[int, object]]
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        BackgroundHTTPServer.__init__(self)

    def _next(self, seen: Seen) -> tuple[int, object]:
        with self._lock:
            self.seen.append(seen)
            return self.script[min(len(self.seen), len(self.script)) - 1]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                status, payload = owner._next(seen)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        return Handler
