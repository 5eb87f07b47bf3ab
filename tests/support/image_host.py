"""An image host on 127.0.0.1 for `image_url` tests: the image, redirects, and bad answers."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

from tests.support.background_http import BackgroundHTTPServer


class ImageHost(BackgroundHTTPServer):
    """Serves a few paths: an image, redirects, a wrong type, a huge body, a slow drip."""

    def __init__(self, image: bytes) -> None:
        self.image = image
        self.requests: list[dict[str, str]] = []
        super().__init__()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                host.requests.append({"path": self.path, "host": self.headers.get("Host", "")})
                path = self.path.split("?")[0]
                if path == "/cat.jpg":
                    self._send(200, host.image, Content_Type="image/jpeg")
                elif path.startswith("/hop/"):
                    left = int(path.rsplit("/", 1)[1])
                    target = "/cat.jpg" if left == 0 else f"/hop/{left - 1}"
                    self._send(302, Location=target)
                elif path == "/to-metadata":
                    self._send(302, Location="http://169.254.169.254/latest/meta-data/")
                elif path == "/page.html":
                    self._send(200, b"<html></html>", Content_Type="text/html")
                elif path == "/missing":
                    self._send(404, b"no", Content_Type="text/plain")
                elif path == "/huge.jpg":
                    self._send(200, host.image * 50, Content_Type="image/jpeg")
                elif path == "/undeclared-huge.jpg":  # no Content-Length: only the stream cap
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.end_headers()
                    for _ in range(50):
                        self.wfile.write(host.image)
                    self.close_connection = True
                elif path == "/stall.jpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(host.image)))
                    self.end_headers()
                    self.wfile.write(host.image[:100])
                    self.wfile.flush()
                    time.sleep(3)
                else:
                    self._send(404)

        return Handler
