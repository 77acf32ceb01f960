"""A real HTTP proxy in front of the moto server that misbehaves on command.

The AWS adapters' outage handling is proven over the wire, not with stubs:
the test points a service's endpoint (`AWS_ENDPOINT_URL_DYNAMODB`, or
`AWS_ENDPOINT_URL` for all) at this proxy, which forwards every request to
moto unchanged until the test arms a fault. A fault applies to the next `n`
matching requests (or to all of them until `clear()`), optionally only to
one operation (matched against the `X-Amz-Target` header that the JSON
protocols send, e.g. `DynamoDB_20120810.GetItem` matches "GetItem"):

- `throttle()`: DynamoDB's own throttling answer, HTTP 400 with a JSON
  `__type` ending in the exception name, its CRC32 header and request id;
- `cancel_transaction()`: a TransactionCanceledException with given reasons;
- `leave_unprocessed()`: a BatchWriteItem answer of 200 that hands every
  write back as unprocessed (what a throttled batch looks like);
- `fail()`: any other error answer (an S3 `SlowDown`, a Cognito throttle);
- `drop()`: read the request, then close the connection without an answer;
- `delay()`: hold the request for some seconds before forwarding it.

`seen` logs every request as (operation, outcome). The server is a thread
of the test process on 127.0.0.1 and a free port, stopped by `stop()`.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Headers that belong to one hop, never forwarded.
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect", "proxy-connection"}
)
_DYNAMO_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_THROTTLE_TYPES = {
    # The __type prefixes DynamoDB uses for each throttling error.
    "ProvisionedThroughputExceededException": _DYNAMO_PREFIX,
    "RequestLimitExceeded": _DYNAMO_PREFIX,
    "ThrottlingException": "com.amazon.coral.availability#",
}
_THROTTLE_MESSAGES = {
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was"
    " exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
}
THROTTLE_CODES = tuple(_THROTTLE_TYPES)


@dataclass
class _Fault:
    kind: str  # "answer", "unprocessed", "drop", "delay"
    remaining: int | None  # None: until cleared
    operation: str | None
    status: int = 400
    body: bytes = b""
    content_type: str = "application/x-amz-json-1.0"
    seconds: float = 0.0

    def matches(self, operation: str) -> bool:
        return self.operation is None or self.operation == operation


class FaultProxy:
    """Forwards to `upstream` (the moto server) unless a fault is armed."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ---------------------------------------------------------------- arming

    def throttle(
        self,
        n: int | None = None,
        *,
        code: str = "ProvisionedThroughputExceededException",
        operation: str | None = None,
    ) -> None:
        """DynamoDB's throttling answer for the next `n` matching requests (None: until cleared)."""
        body = {"__type": _THROTTLE_TYPES[code] + code, "message": _THROTTLE_MESSAGES[code]}
        self.fail(n, status=400, body=json.dumps(body).encode(), operation=operation)

    def cancel_transaction(self, reasons: list[str], n: int | None = None) -> None:
        """TransactWriteItems cancelled with one reason code per action."""
        listed = ", ".join(reasons)
        body = {
            "__type": _DYNAMO_PREFIX + "TransactionCanceledException",
            "CancellationReasons": [{"Code": r} if r == "None" else {"Code": r, "Message": r} for r in reasons],
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{listed}]",
        }
        self.fail(n, status=400, body=json.dumps(body).encode(), operation="TransactWriteItems")

    def leave_unprocessed(self, n: int | None = None) -> None:
        """BatchWriteItem answers 200 but hands every write back as unprocessed."""
        self._arm(_Fault("unprocessed", n, "BatchWriteItem"))

    def fail(
        self,
        n: int | None = None,
        *,
        status: int,
        body: bytes,
        content_type: str = "application/x-amz-json-1.0",
        operation: str | None = None,
    ) -> None:
        """Any error answer, as given, for the next `n` matching requests."""
        self._arm(_Fault("answer", n, operation, status=status, body=body, content_type=content_type))

    def drop(self, n: int | None = None, *, operation: str | None = None) -> None:
        """Close the connection after reading the request, without an answer."""
        self._arm(_Fault("drop", n, operation))

    def delay(self, seconds: float, n: int | None = None, *, operation: str | None = None) -> None:
        """Hold matching requests for `seconds`, then forward them."""
        self._arm(_Fault("delay", n, operation, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, operation: str | None = None, outcome: str | None = None) -> int:
        with self._lock:
            return sum(1 for op, out in self.seen if (operation is None or op == operation) and outcome in (None, out))

    def _arm(self, fault: _Fault) -> None:
        if fault.remaining is not None and fault.remaining <= 0:
            raise ValueError("a fault applies to at least one request")
        with self._lock:
            self._faults.append(fault)

    def _take(self, operation: str) -> _Fault | None:
        """The first armed fault matching `operation`, counted down (thread-safe)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
            return None

    def _log(self, operation: str, outcome: str) -> None:
        with self._lock:
            self.seen.append((operation, outcome))

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, Any, bytes]:
        conn = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            head = self.command == "HEAD"  # its Content-Length is the object's, with no body sent
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP and (head or name.lower() != "content-length"):
                    self.send_header(name, value)
            if not head:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _dynamo_answer(self, status: int, body: bytes, content_type: str) -> None:
            self._answer(
                status,
                [
                    ("Content-Type", content_type),
                    ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
                    ("x-amz-crc32", str(zlib.crc32(body))),
                ],
                body,
            )

        def _handle(self) -> None:
            body = self._body()
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            fault = proxy._take(operation)
            try:
                if fault is None or fault.kind == "delay":
                    if fault is not None:
                        proxy._log(operation, "delayed")
                        time.sleep(fault.seconds)
                    else:
                        proxy._log(operation, "forwarded")
                    headers = [(k, v) for k, v in self.headers.items() if k.lower() not in {*_HOP, "content-length"}]
                    self._answer(*proxy._forward(self.command, self.path, headers, body))
                elif fault.kind == "drop":
                    proxy._log(operation, "dropped")
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif fault.kind == "unprocessed":
                    proxy._log(operation, "unprocessed")
                    left = json.loads(body)["RequestItems"]
                    self._dynamo_answer(200, json.dumps({"UnprocessedItems": left}).encode(), fault.content_type)
                else:
                    proxy._log(operation, "error")
                    self._dynamo_answer(fault.status, fault.body, fault.content_type)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (its read timeout) while the request was held.
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
