"""A hostile web host on 127.0.0.1 for the fetch tests: each path answers with
raw bytes written by a function (compression bombs, a drip of one byte at a
time, broken redirects), plus ports that are closed, silent or not HTTP."""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MB = 1024 * 1024

Answer = Callable[[BaseHTTPRequestHandler, threading.Event], None]


def gzip_layer(chunks: Iterator[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(c) for c in chunks) + packer.flush()


@cache
def zeros_gzipped(megabytes: int, layers: int) -> bytes:
    """`megabytes` MB of zeros under `layers` gzip layers (1,000 MB in two layers is 1,788 bytes)."""
    data = gzip_layer(bytes(MB) for _ in range(megabytes))
    for _ in range(layers - 1):
        data = gzip_layer(iter((data,)))
    return data


def rss_feed(title: str, enclosure: str) -> bytes:
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title><item><title>One</title>"
        f"<guid>g1</guid><enclosure url='{enclosure}' type='audio/mpeg'/></item></channel></rss>"
    ).encode()


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    + ']><rss version="2.0"><channel><title>&lol9;</title><item><title>a</title>'
    '<enclosure url="http://127.0.0.1:9/a.mp3" type="audio/mpeg"/></item></channel></rss>'
)


def many_items(n: int, enclosure: str = "http://x.example/{i}.mp3") -> bytes:
    """An RSS document of `n` items, one a day, newest first; 30,000 of them are 4.9 MB."""
    days = range(n, 0, -1)
    day = "%a, %d %b %Y 07:00:00 GMT"
    items = "".join(
        f"<item><title>E{d}</title><guid>g{d}</guid><pubDate>{time.strftime(day, time.gmtime(d * 86400))}</pubDate>"
        f"<enclosure url='{enclosure.format(i=d)}' type='audio/mpeg'/></item>"
        for d in days
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Big</title>{items}</channel></rss>".encode()


def fixed(status: int, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    def answer(h: BaseHTTPRequestHandler, _stop: threading.Event) -> None:
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return answer


def raw(data: bytes) -> Answer:
    """Exactly these bytes on the wire (headers h11 would let through, but no library writes)."""

    def answer(h: BaseHTTPRequestHandler, _stop: threading.Event) -> None:
        h.wfile.write(data)
        h.close_connection = True

    return answer


def drip(head: bytes, body: bytes, every_s: float) -> Answer:
    """`head` at once, then `body` one byte every `every_s` seconds."""

    def answer(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.wfile.write(head)
        h.wfile.flush()
        for i in range(len(body)):
            if stop.wait(every_s):
                return
            try:
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
            except OSError:
                return  # the fetcher gave up: the point
        h.close_connection = True

    return answer


@dataclass
class HostileHost:
    server: ThreadingHTTPServer
    routes: dict[str, Answer] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    last_headers: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> lower-case headers
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def hostile_host() -> Iterator[HostileHost]:
    host: HostileHost

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            host.asked.append(self.path)
            host.last_headers[self.path] = {k.lower(): v for k, v in self.headers.items()}
            answer = host.routes.get(self.path, fixed(404, b"not here"))
            try:
                answer(self, host.stop)
            except OSError:
                self.close_connection = True

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a fetcher hanging up mid-answer is what these tests provoke

    server = Server(("127.0.0.1", 0), Handler)
    host = HostileHost(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.stop.set()
        server.shutdown()
        server.server_close()


@contextmanager
def odd_ports() -> Iterator[dict[str, int]]:
    """Ports on 127.0.0.1 that give no HTTP answer: closed, silent (accepts, never
    speaks), a banner (speaks first, not HTTP) and plain TCP that closes at once."""
    stop = threading.Event()
    listeners: dict[str, socket.socket] = {}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening, closed on leaving: refused

    def serve(name: str, sock: socket.socket) -> None:
        held = []
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            if name == "banner":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            if name == "hangup":
                conn.close()
            else:
                held.append(conn)
        for conn in held:
            conn.close()

    threads = []
    for name in ("silent", "banner", "hangup"):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        listeners[name] = sock
        threads.append(threading.Thread(target=serve, args=(name, sock), daemon=True))
    for t in threads:
        t.start()
    try:
        yield {"closed": closed, **{name: s.getsockname()[1] for name, s in listeners.items()}}
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
        for s in listeners.values():
            s.close()
