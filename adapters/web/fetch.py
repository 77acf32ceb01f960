"""GET a user-supplied URL safely: every hop checked, caps on size and time.

`SafeFetcher` applies the URL check it is handed (`adapters.web.url_safety.check_url`;
`SafeFetcher.checking` builds both checks) to the first URL and every redirect target, connects to the address the check
approved (the host only in Host and TLS SNI), asks for no compression and reads
raw bytes: one gzip or deflate layer is inflated here in bounded steps, so the
size cap counts decoded bytes before they exist. Every socket operation is
bounded by what is left of the whole-transfer deadline. Rules: docs/security.md.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from adapters.web.url_safety import UNFETCHABLE, AddressRefused, CheckedUrl, check_url, precheck_url
from core.errors import Invalid, TooLarge, UpstreamError, UpstreamTimeout
from core.ports import Fetched

log = logging.getLogger("yss.fetch")

USER_AGENT = "yoto-smart-stream (podcast cards; +https://github.com/)"
READ_BYTES = 64 * 1024
IDLE_READ_S = 30.0  # longest wait for any one read, within the deadline
_REDIRECTS = {301, 302, 303, 307, 308}
_GZIP = {"gzip", "x-gzip"}


# --------------------------------------------------------------------------- the deadline on every socket operation


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _bound(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise expired("the transfer deadline has passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:  # type: ignore[no-untyped-def]
        bound = self._bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bound), self._deadline)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: float) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the transfer deadline has passed")
        bound = left if timeout is None else min(timeout, left)
        stream = self._inner.connect_tcp(host, port, bound, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport (its request, response and error mapping) over a pool
    whose every connect, read and write waits at most until the deadline."""

    def __init__(self, *, verify: bool, deadline: float) -> None:
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=_DeadlineBackend(deadline))


# --------------------------------------------------------------------------- one content-encoding layer, bounded


def decoder_for(content_encoding: str | None) -> _Inflater | None:
    """None for an answer sent as is; an inflater for one gzip or deflate
    layer; `UpstreamError` for stacked layers or any other coding."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise UpstreamError(
            f"the answer is compressed {len(codings)} times over ({content_encoding}); one layer at most"
        )
    if codings[0] not in _GZIP | {"deflate"}:
        raise UpstreamError(f"the answer is compressed as {codings[0]!r}; only gzip and deflate are read")
    return _Inflater(gzip=codings[0] in _GZIP)


class _Inflater:
    """Inflates at most READ_BYTES per step, so a bomb never exists in full."""

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        self._zlib: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._head = b""
        self._fed = False

    def _start(self, data: bytes) -> bytes:
        # "deflate" is meant to be zlib-wrapped, but some servers send a raw stream.
        self._head += data
        if len(self._head) < 2:
            return b""
        cmf, flg = self._head[0], self._head[1]
        wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        data, self._head = self._head, b""
        return data

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if self._zlib is None:
            data = self._start(data)
            if self._zlib is None:
                return
        inflater = self._zlib
        while not inflater.eof:
            out = inflater.decompress(data, READ_BYTES)
            if out:
                yield out
            data = inflater.unconsumed_tail
            if not data and len(out) < READ_BYTES:
                return

    def finish(self) -> Iterator[bytes]:
        if not self._fed:
            return  # no body at all (a 304 that repeats the coding): nothing to inflate
        yield from self.feed(b"")
        if self._zlib is None or not self._zlib.eof:
            raise UpstreamError("the compressed answer ends before its compressed stream does")


# --------------------------------------------------------------------------- the fetcher


class SafeFetcher:
    """`core.ports.WebFetcher`. `check` judges a URL before each connection (its
    DNS answers too); `precheck` judges one without DNS (form and literal addresses)."""

    def __init__(
        self,
        check: Callable[[str], CheckedUrl],
        *,
        precheck: Callable[[str], None] | None = None,
        max_redirects: int = 5,
        verify: bool = True,
    ) -> None:
        self._check = check
        self._precheck = precheck
        self._max_redirects = max_redirects
        self._verify = verify

    @classmethod
    def checking(cls, *, allow_private: bool, max_redirects: int = 5) -> SafeFetcher:
        """The fetcher of family members' URLs (ALLOW_PRIVATE_FEEDS decides `allow_private`)."""
        return cls(
            lambda url: check_url(url, allow_private=allow_private),
            precheck=lambda url: precheck_url(url, allow_private=allow_private),
            max_redirects=max_redirects,
        )

    def precheck(self, url: str) -> None:
        if self._precheck is not None:
            self._precheck(url)

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int,
        timeout_s: float,
        to: Path | None = None,
    ) -> Fetched:
        deadline = time.monotonic() + timeout_s
        with _DeadlineTransport(verify=self._verify, deadline=deadline) as transport:
            for hop in range(self._max_redirects + 1):
                checked = self._checked(url, redirected=hop > 0)
                resp = self._open(transport, checked, headers or {}, redirected=hop > 0)
                try:
                    if resp.status_code in _REDIRECTS and "location" in resp.headers:
                        url = _join(checked.url, resp.headers["location"])
                        continue
                    return _read(resp, checked, max_bytes, deadline, timeout_s, to)
                finally:
                    resp.close()
        raise Invalid(f"more than {self._max_redirects} redirects")

    def _checked(self, url: str, *, redirected: bool) -> CheckedUrl:
        try:
            return self._check(url)
        except AddressRefused:
            raise
        except Invalid as exc:
            if redirected:  # the host answered with a Location we cannot follow
                raise UpstreamError(f"the host redirected to something that is not a usable URL ({exc})") from None
            raise

    @staticmethod
    def _open(
        transport: httpx.BaseTransport, checked: CheckedUrl, headers: Mapping[str, str], *, redirected: bool
    ) -> httpx.Response:
        parts = urlsplit(checked.url)
        address = f"[{checked.address}]" if ":" in checked.address else checked.address
        default_port = 443 if checked.scheme == "https" else 80
        host_header = checked.host if checked.port == default_port else f"{checked.host}:{checked.port}"
        pinned = urlunsplit((parts.scheme, f"{address}:{checked.port}", parts.path or "/", parts.query, ""))
        extensions: dict[str, object] = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), IDLE_READ_S)}
        if checked.scheme == "https":
            extensions["sni_hostname"] = checked.host
        sent = {"User-Agent": USER_AGENT, **headers, "Accept-Encoding": "identity", "Host": host_header}
        try:
            request = httpx.Request("GET", pinned, headers=sent, extensions=extensions)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            if redirected:
                raise UpstreamError(f"the host redirected to something that is not a usable URL ({exc})") from None
            raise Invalid(f"not a usable URL: {exc}") from None
        try:
            resp = transport.handle_request(request)
        except (httpx.HTTPError, OSError) as exc:
            # Refused, reset, silent, not HTTP, TLS failed: one answer, so none of them maps a port.
            log.warning("no HTTP answer from %s port %s: %r", checked.host, checked.port, exc)
            raise AddressRefused(UNFETCHABLE) from None
        resp.request = request
        return resp


def _join(base: str, location: str) -> str:
    try:
        return urljoin(base, location)
    except ValueError as exc:
        raise UpstreamError(f"the host redirected to something that is not a usable URL ({exc})") from None


def _read(
    resp: httpx.Response, checked: CheckedUrl, max_bytes: int, deadline: float, timeout_s: float, to: Path | None
) -> Fetched:
    url, host = checked.url, checked.host  # refusals name the host: the URL may be a private feed's secret
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the answer from {host} is {int(declared) // 1024} KB, over the {max_bytes // 1024} KB cap")
    inflater = decoder_for(resp.headers.get("content-encoding"))
    got = 0
    chunks: list[bytes] = []
    sink = to.open("wb") if to is not None and resp.status_code == 200 else None

    def take(pieces: Iterator[bytes]) -> None:
        nonlocal got
        for piece in pieces:
            got += len(piece)
            if got > max_bytes:
                raise TooLarge(f"the answer from {host} is over the {max_bytes // 1024} KB cap")
            if sink is not None:
                sink.write(piece)
            else:
                chunks.append(piece)

    try:
        try:
            raw_got = 0
            for raw in resp.iter_raw(READ_BYTES):
                raw_got += len(raw)
                if raw_got > max_bytes:
                    raise TooLarge(f"the answer from {host} is over the {max_bytes // 1024} KB cap")
                take(inflater.feed(raw) if inflater else iter((raw,)))
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the transfer deadline has passed")
            if inflater:
                take(inflater.finish())
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"{checked.host} took longer than {timeout_s:g} s to send it") from None
        except httpx.HTTPError as exc:
            log.warning("the answer from %s port %s broke off: %r", checked.host, checked.port, exc)
            raise UpstreamError(f"the answer from {checked.host} broke off before its end") from None
        except zlib.error:
            raise UpstreamError(f"the answer from {checked.host} is not valid gzip or deflate") from None
    except BaseException:
        if sink is not None:
            sink.close()
            to.unlink(missing_ok=True)  # type: ignore[union-attr]
        raise
    if sink is not None:
        sink.close()
    headers = {k.lower(): v for k, v in resp.headers.items()}
    return Fetched(status=resp.status_code, url=url, headers=headers, body=b"".join(chunks), size=got)
