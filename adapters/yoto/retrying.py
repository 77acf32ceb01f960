"""The Yoto client's HTTP core: one shared httpx pool, the retry budget
(429 and refused connections; 5xx only where a resend is harmless), Retry-After,
and a non-2xx answer turned into the domain error. What is never resent and why:
docs/yoto.md ("Retries and lost answers")."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from core.errors import DomainError, NotFound, RateLimited, UpstreamError, UpstreamRejected, UpstreamTimeout
from core.records import utcnow
from core.yoto.cloud import DEFAULT_SCOPES, AccessTokenRejected

AUDIENCE = "https://api.yotoplay.com"
DEFAULT_SCOPE = DEFAULT_SCOPES
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _seg(value: str) -> str:
    """One URL path segment (device ids may hold `-`, anything else is escaped)."""
    return quote(value, safe="")


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def yoto_message(resp: httpx.Response) -> str:
    """Yoto's own words for a refusal, whatever shape the body has."""
    body = _json(resp)
    if isinstance(body, dict):
        for name in ("message", "error_description", "detail", "error"):
            value = body.get(name)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
    text = resp.text.strip()
    return text[:500] if text else f"HTTP {resp.status_code} {resp.reason_phrase}".strip()


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date)."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class _Unanswered(Exception):
    """A request that may have been carried out although no answer said so.
    `finished` is False after a timeout: Yoto may still be working on it."""

    def __init__(self, error: DomainError, *, finished: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.finished = finished


class RetryingHttp:
    """The connection and the retrying send every Yoto call goes through."""

    def __init__(
        self,
        *,
        api_url: str,
        auth_url: str,
        client_id: str | None,
        scope: str = DEFAULT_SCOPE,
        audience: str = AUDIENCE,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        max_tries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 4.0,
        max_wait_s: float = 10.0,
        reconcile_skew_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth_url = auth_url.rstrip("/")
        self.client_id = client_id
        self.scope = " ".join(scope.split())
        self.audience = audience
        self.max_tries = max(1, max_tries)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_wait_s = max_wait_s
        self.reconcile_skew_s = reconcile_skew_s
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
            headers={"User-Agent": "yoto-smart-stream", "Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ transport

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        after = _retry_after(resp) if resp is not None else None
        if after is not None:
            return after
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * (0.5 + self._jitter() / 2)

    def _send(
        self, method: str, url: str, *, what: str, token: str | None = None, resend: bool = True, **kw: Any
    ) -> httpx.Response:
        """The final answer after retries: a 2xx or a status that is not retried.

        429 and a refused connection (nothing reached Yoto) are retried within the
        budget. With `resend` (reads, updates) a 5xx is retried too; without it (a
        create, a token call) a 5xx, a dropped connection or a read timeout raises
        `_Unanswered`: the request may have been carried out. A timeout is never
        retried either way (waiting `max_tries` timeouts outlasts the API's deadline)."""
        headers = dict(kw.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            resp: httpx.Response | None = None
            try:
                resp = self._http.request(method, url, headers=headers, **kw)
            except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise UpstreamTimeout(f"Yoto did not answer in time ({what})") from exc
            except httpx.TimeoutException as exc:
                lost = UpstreamTimeout(f"Yoto did not answer in time ({what})")
                if resend:
                    raise lost from exc
                raise _Unanswered(lost, finished=False) from exc
            except httpx.ConnectError as exc:
                failure = f"could not connect: {exc}"
            except httpx.TransportError as exc:
                dropped = UpstreamError(f"the connection to Yoto failed ({what}): {exc}")
                if resend:
                    raise dropped from exc
                raise _Unanswered(dropped) from exc
            else:
                if resp.status_code not in _RETRY_STATUSES:
                    return resp
                failure = f"{resp.status_code} {resp.reason_phrase}: {yoto_message(resp)}"
                if not resend and resp.status_code != 429:
                    raise _Unanswered(UpstreamError(f"Yoto failed to {what}: {failure}"))
            delay = self._delay(attempt, resp)
            if attempt >= self.max_tries or waited + delay > self.max_wait_s:
                self._give_up(what, attempt, resp, failure, delay)
            self._sleep(delay)
            waited += delay

    def _give_up(self, what: str, attempt: int, resp: httpx.Response | None, failure: str, delay: float) -> NoReturn:
        tries = f"{attempt} {'try' if attempt == 1 else 'tries'}"
        if resp is not None and resp.status_code == 429:
            wait = max(1, round(delay))
            raise RateLimited(
                f"Yoto is limiting requests ({what}); try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        raise UpstreamError(f"Yoto failed to {what} after {tries}: {failure}")

    def _check(self, resp: httpx.Response, *, what: str, missing: str | None = None) -> Any:
        """The JSON of a 2xx answer; the domain error for anything else."""
        status = resp.status_code
        if 200 <= status < 300:
            return _json(resp) if resp.content else None
        if status == 401:
            raise AccessTokenRejected(f"Yoto refused the access token ({what})")
        if status == 404 and missing:
            raise NotFound(missing)
        if 400 <= status < 500:
            raise UpstreamRejected(yoto_message(resp), upstream_status=status)
        raise UpstreamError(f"Yoto failed to {what}: {status} {yoto_message(resp)}")

    def _api(self, method: str, path: str, token: str, *, what: str, missing: str | None = None, **kw: Any) -> Any:
        resp = self._send(method, self.api_url + path, what=what, token=token, **kw)
        return self._check(resp, what=what, missing=missing)
