"""AWS IoT Core's subscription limits in front of a broker that has none.

Yoto's broker is AWS IoT Core, which takes at most 8 topic filters in one
SUBSCRIBE and 50 subscriptions per connection and ends a connection that asks
for more; mosquitto has no such limits. `LimitingProxy` sits between clients
and mosquitto (plain MQTT or MQTT over WebSockets), reads what clients send,
and closes a connection the moment it breaks a limit (docs/simulator.md). On
plain MQTT it can also refuse chosen topic filters in the SUBACK (0x80), as a
broker's policy does, so a client's reading of SUBACK codes is tested for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_FILTERS_PER_SUBSCRIBE = 8
MAX_SUBSCRIPTIONS = 50
_CONNECT, _SUBSCRIBE, _SUBACK, _UNSUBSCRIBE = 1, 8, 9, 10
REFUSED = 0x80


class Violation(Exception):
    """What a client sent that AWS IoT Core would refuse."""


@dataclass
class _Client:
    """The MQTT byte stream one client sends, rebuilt from TCP or WebSocket frames."""

    max_filters: int
    max_subscriptions: int
    refuse: Callable[[str], bool] = lambda _topic: False
    version: int = 4
    websocket: bool = False
    subscriptions: set[str] = field(default_factory=set)
    # SUBSCRIBE packet id → which of its filters the broker sees (True) and which we refuse
    refusing: dict[int, list[bool]] = field(default_factory=dict)
    _mqtt: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> tuple[list[bytes], list[bytes]]:
        """(packets to forward to the broker, answers to send the client ourselves)."""
        self._mqtt += data
        upstream: list[bytes] = []
        answers: list[bytes] = []
        while True:
            packet = _take_packet(self._mqtt)
            if packet is None:
                return upstream, answers
            first, body, raw = packet
            kind = first >> 4
            if kind == _SUBSCRIBE:
                forward, answer = self._subscribe(first, body)
                upstream += [forward] if forward else []
                answers += [answer] if answer else []
                continue
            if kind == _CONNECT:
                name_len = int.from_bytes(body[0:2], "big")
                self.version = body[2 + name_len] if len(body) > 2 + name_len else 4
            elif kind == _UNSUBSCRIBE:
                self.subscriptions -= {t for t, _ in _topic_filters(body, self.version, with_options=False)[1]}
            upstream.append(raw)

    def _subscribe(self, first: int, body: bytes) -> tuple[bytes | None, bytes | None]:
        head, filters = _topic_filters(body, self.version, with_options=True)
        if len(filters) > self.max_filters:
            raise Violation(f"{len(filters)} topic filters in one SUBSCRIBE (at most {self.max_filters})")
        granted = [not self.refuse(topic) for topic, _ in filters]
        after = self.subscriptions | {t for (t, _), ok in zip(filters, granted, strict=True) if ok}
        if len(after) > self.max_subscriptions:
            raise Violation(f"{len(after)} subscriptions on one connection (at most {self.max_subscriptions})")
        self.subscriptions = after
        packet_id = int.from_bytes(body[0:2], "big")
        if all(granted):
            return _packet(first, body), None
        if not any(granted):  # the broker sees nothing: we answer
            return None, _packet(_SUBACK << 4, head + bytes([REFUSED] * len(filters)))
        self.refusing[packet_id] = granted
        kept = b"".join(raw for (_, raw), ok in zip(filters, granted, strict=True) if ok)
        return _packet(first, head + kept), None

    def suback(self, first: int, body: bytes) -> bytes:
        """The broker's SUBACK with our refusals put back in their places."""
        packet_id = int.from_bytes(body[0:2], "big")
        granted = self.refusing.pop(packet_id, None)
        if granted is None:
            return _packet(first, body)
        head_len = len(body) - sum(granted)
        codes = iter(body[head_len:])
        return _packet(first, body[:head_len] + bytes(next(codes) if ok else REFUSED for ok in granted))


def _packet(first: int, body: bytes) -> bytes:
    length, out = len(body), bytearray([first])
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out) + body


def _take_packet(buf: bytearray) -> tuple[int, bytes, bytes] | None:
    """(first byte, variable header + payload, the whole packet) of the first whole
    packet in `buf`, removed from it."""
    if len(buf) < 2:
        return None
    length, multiplier, i = 0, 1, 1
    while True:
        if i >= len(buf):
            return None
        byte = buf[i]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        i += 1
        if not byte & 0x80:
            break
        if i > 4:
            raise Violation("a malformed remaining length")
    if len(buf) < i + length:
        return None
    first = buf[0]
    body = bytes(buf[i : i + length])
    raw = bytes(buf[: i + length])
    del buf[: i + length]
    return first, body, raw


def _topic_filters(body: bytes, version: int, *, with_options: bool) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(packet id and properties, [(filter, its bytes in the packet)])."""
    pos = 2  # packet identifier
    if version == 5:
        props, pos = _varint(body, pos)
        pos += props
    head = body[:pos]
    filters = []
    while pos + 2 <= len(body):
        size = int.from_bytes(body[pos : pos + 2], "big")
        end = pos + 2 + size + (1 if with_options else 0)
        filters.append((body[pos + 2 : pos + 2 + size].decode("utf-8", "replace"), body[pos:end]))
        pos = end
    return head, filters


def _varint(body: bytes, pos: int) -> tuple[int, int]:
    value, multiplier = 0, 1
    while pos < len(body):
        byte = body[pos]
        pos += 1
        value += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            break
    return value, pos


class _WebSocketFrames:
    """Client→server WebSocket frames (masked, per RFC 6455) → their payload bytes."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while True:
            buf = self._buf
            if len(buf) < 2:
                break
            opcode, masked, size, pos = buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    break
                size, pos = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size, pos = int.from_bytes(buf[2:10], "big"), 10
            mask = b""
            if masked:
                if len(buf) < pos + 4:
                    break
                mask, pos = bytes(buf[pos : pos + 4]), pos + 4
            if len(buf) < pos + size:
                break
            payload = bytes(buf[pos : pos + size])
            del buf[: pos + size]
            if mask:
                payload = bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
            if opcode in (0, 1, 2):  # continuation, text, binary: the MQTT stream; control frames are not
                out += payload
        return bytes(out)


class LimitingProxy:
    """Listens on `port` (127.0.0.1) and forwards every connection to the
    broker at `upstream`, closing one that breaks a limit. `start()` and `stop()`
    follow the broker's own lifecycle, so a stopped broker refuses connections."""

    def __init__(
        self,
        upstream_port: int,
        port: int,
        *,
        host: str = "127.0.0.1",
        max_filters_per_subscribe: int = MAX_FILTERS_PER_SUBSCRIBE,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        refusals: list[str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.upstream_port = upstream_port
        self.max_filters = max_filters_per_subscribe
        self.max_subscriptions = max_subscriptions
        self.refusals: list[str] = refusals if refusals is not None else []
        self.refused_prefixes: set[str] = set()  # plain MQTT only: SUBACK 0x80 for filters starting so
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
                )
            except BaseException as exc:  # the port is taken: say so to start()
                failed.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"iot-limits-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failed:
            self._thread = None
            raise failed[0]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            if self._server is not None:
                await self._server.wait_closed()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._server = None
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            self._writers.add(w)
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        client = _Client(self.max_filters, self.max_subscriptions, self._refused)
        inbound = asyncio.create_task(self._inbound(reader, writer, up_writer, client))
        outbound = asyncio.create_task(self._outbound(up_reader, writer, client))
        await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        for task in (inbound, outbound):
            task.cancel()
        for w in (writer, up_writer):
            w.transport.abort()  # no DISCONNECT on either side: the broker publishes the client's will
            self._writers.discard(w)

    def _refused(self, topic: str) -> bool:
        return any(topic.startswith(prefix) for prefix in list(self.refused_prefixes))

    async def _inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: asyncio.StreamWriter, c: _Client
    ) -> None:
        client = c
        first = await reader.read(65536)
        if not first:
            return
        frames: _WebSocketFrames | None = None
        pending = first
        if first.startswith(b"GET "):
            client.refuse = lambda _topic: False  # frames are passed through as they are: no rewriting
            client.websocket = True
            handshake = bytearray(first)
            while b"\r\n\r\n" not in handshake:
                more = await reader.read(65536)
                if not more:
                    return
                handshake += more
            head, _, rest = bytes(handshake).partition(b"\r\n\r\n")
            upstream.write(head + b"\r\n\r\n")
            frames, pending = _WebSocketFrames(), rest
        data = pending
        while True:
            if data:
                try:
                    packets, answers = client.feed(frames.feed(data) if frames is not None else data)
                except Violation as exc:
                    self.refusals.append(str(exc))
                    log.info("closing a connection that AWS IoT Core would refuse: %s", exc)
                    return
                upstream.write(data if frames is not None else b"".join(packets))
                for answer in answers:
                    writer.write(answer)
                await upstream.drain()
            data = await reader.read(65536)
            if not data:
                return

    @staticmethod
    async def _outbound(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: _Client) -> None:
        buf = bytearray()
        while data := await reader.read(65536):
            if client.websocket:  # the broker speaks only after the client's handshake: the flag is set by now
                writer.write(data)
                await writer.drain()
                continue
            buf += data
            out = bytearray()
            while (packet := _take_packet(buf)) is not None:
                first, body, raw = packet
                out += client.suback(first, body) if first >> 4 == _SUBACK else raw
            writer.write(bytes(out))
            await writer.drain()
