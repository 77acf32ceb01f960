"""GET a user-supplied URL safely: every hop checked, caps on size and time.

`SafeFetcher` is handed the URL check (`services.url_safety.check_url` with
the deployment's ALLOW_PRIVATE_FEEDS) and applies it to the first URL and to
every redirect target before connecting. It connects to the address the check
approved, not to whatever a second DNS lookup would answer, and names the
host only in the Host header and in TLS SNI (the certificate is still verified
against the host name). Bodies stream to a file or memory under `max_bytes`
and a whole-transfer deadline, so a slow drip cannot hold a worker for ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from core.errors import Invalid, TooLarge, UpstreamError, UpstreamTimeout
from core.ports import Fetched
from services.url_safety import CheckedUrl

USER_AGENT = "yoto-smart-stream (podcast cards; +https://github.com/)"
_REDIRECTS = {301, 302, 303, 307, 308}


class SafeFetcher:
    def __init__(self, check: Callable[[str], CheckedUrl], *, max_redirects: int = 5, verify: bool = True) -> None:
        self._check = check
        self._max_redirects = max_redirects
        self._verify = verify

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
        with httpx.Client(verify=self._verify, follow_redirects=False, trust_env=False) as client:
            for _hop in range(self._max_redirects + 1):
                checked = self._check(url)
                try:
                    resp = self._open(client, checked, headers or {}, deadline)
                    try:
                        if resp.status_code in _REDIRECTS and "location" in resp.headers:
                            url = urljoin(checked.url, resp.headers["location"])
                            continue
                        return self._read(resp, checked.url, max_bytes, deadline, to)
                    finally:
                        resp.close()
                except httpx.TimeoutException:
                    raise UpstreamTimeout(f"{checked.host} did not answer within {timeout_s:g} s") from None
                except httpx.HTTPError as exc:
                    raise UpstreamError(f"could not fetch from {checked.host}: {exc}") from None
        raise Invalid(f"more than {self._max_redirects} redirects")

    @staticmethod
    def _open(client: httpx.Client, checked: CheckedUrl, headers: Mapping[str, str], deadline: float) -> httpx.Response:
        parts = urlsplit(checked.url)
        address = f"[{checked.address}]" if ":" in checked.address else checked.address
        default_port = 443 if checked.scheme == "https" else 80
        host_header = checked.host if checked.port == default_port else f"{checked.host}:{checked.port}"
        pinned = urlunsplit((parts.scheme, f"{address}:{checked.port}", parts.path or "/", parts.query, ""))
        left = max(0.1, deadline - time.monotonic())
        request = client.build_request(
            "GET",
            pinned,
            headers={"User-Agent": USER_AGENT, **headers, "Host": host_header},
            timeout=httpx.Timeout(min(left, 30.0)),
            extensions={"sni_hostname": checked.host} if checked.scheme == "https" else {},
        )
        return client.send(request, stream=True)  # type: ignore[return-value]

    @staticmethod
    def _read(resp: httpx.Response, url: str, max_bytes: int, deadline: float, to: Path | None) -> Fetched:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"{url} is {int(declared) // 1024} KB, over the {max_bytes // 1024} KB cap")
        got = 0
        chunks: list[bytes] = []
        sink = to.open("wb") if to is not None and resp.status_code == 200 else None
        try:
            for chunk in resp.iter_bytes(64 * 1024):
                got += len(chunk)
                if got > max_bytes:
                    raise TooLarge(f"{url} is over the {max_bytes // 1024} KB cap")
                if time.monotonic() > deadline:
                    raise UpstreamTimeout(f"{url} took too long to download")
                if sink is not None:
                    sink.write(chunk)
                else:
                    chunks.append(chunk)
        except BaseException:
            if sink is not None:
                sink.close()
                to.unlink(missing_ok=True)  # type: ignore[union-attr]
            raise
        if sink is not None:
            sink.close()
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return Fetched(status=resp.status_code, url=url, headers=headers, body=b"".join(chunks), size=got)
