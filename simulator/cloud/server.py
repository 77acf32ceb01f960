"""The socket side: a threading HTTP/1.1 server on 127.0.0.1 in front of `CloudApp`."""

from __future__ import annotations

import contextlib
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from simulator.cloud.app import CloudApp
from simulator.cloud.http import Request, Response, error_response


class CloudServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 50+ clients connecting at once must not be refused
    allow_reuse_address = True

    def __init__(self, port: int, app: CloudApp) -> None:
        self.app = app
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout, dropped socket) is normal here; anything else is printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CloudServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this each answer waits ~40 ms for a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log is the record."""

    def _read_body(self, limit: int) -> bytes:
        too_large = f"request body too large: at most {limit} bytes allowed"
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise _BadBody(413, too_large)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise _BadBody(400, "bad Content-Length") from exc
        if length < 0:
            raise _BadBody(400, "bad Content-Length")
        if length > limit:
            raise _BadBody(413, f"{too_large} (Content-Length is {length})")
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        try:
            body = self._read_body(self.server.app.body_limit(self.command, path))
        except _BadBody as exc:
            self.close_connection = True
            self._send(error_response(exc.status, str(exc)))
            return
        except ValueError as exc:  # a chunk size that is not hex
            self.close_connection = True
            self._send(error_response(400, f"bad chunked body: {exc}"))
            return
        request = Request(
            method=self.command,
            path=path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self._send(self.server.app.handle(request))

    def _send(self, response: Response) -> None:
        if response.close:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
