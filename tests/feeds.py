"""A real feed host for the podcast tests: serves given documents and audio on
127.0.0.1, answers a conditional GET with 304 against the ETag it was given
(as podcast hosts do), and records what it was asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Served:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves `routes[path]`; honours If-None-Match against an ETag it was given; records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Served] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                served = owner.routes.get(self.path, Served(404, b"not here"))
                etag = served.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(served.status)
                for name, value in served.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


def rss(title: str, episodes: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS 2.0 document: episodes as (guid, title, RFC 822 date, enclosure URL)."""
    items = "".join(
        f"<item><title>{t}</title><guid isPermaLink='false'>{g}</guid><pubDate>{d}</pubDate>"
        f"<enclosure url='{u}' type='audio/mpeg' length='1000'/></item>"
        for g, t, d, u in episodes
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{items}</channel></rss>".encode()


@contextmanager
def serve_feeds() -> Iterator[FeedServer]:
    """A running `FeedServer`, shut down afterwards."""
    server = FeedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
