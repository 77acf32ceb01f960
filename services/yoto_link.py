"""Linking a family member's Yoto account: PKCE login, device code, status, unlink.

A started login is kept server side in the settings store, one per member
(`yoto-login:<member id>`, `yoto-device:<member id>`), with its expiry. The browser
only ever carries `state`; the code verifier and the device code never leave
the server. The callback checks the state FIRST, before any code exchange:
it must be the one this member started, unexpired and unused. Single use is
enforced twice: the pending login is deleted when it is taken, and an atomic
counter per state lets exactly one callback through even when two arrive at
once. A new login of the same member replaces the old one, so at most one row
per member is ever kept.

The tokens go to the records store through `YotoTokenService.store_new_link`
and nowhere else (never into a log line or an answer).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from core.errors import Conflict, Forbidden, NotFound
from core.ports import CounterRepository, SettingsRepository, TokenRepository
from core.records import User, utcnow
from core.settings import Settings
from core.yoto.cloud import DeviceCodeStart, DevicePoll, PkceRequest, TokenGrant
from services.card_content import LOOPBACK_HOSTS
from services.players import devices_key
from services.yoto_tokens import YotoTokenService

CALLBACK_PATH = "/api/yoto/callback"
BAD_STATE = "this Yoto login is unknown, already used or expired: start linking again"


class YotoLogin(Protocol):
    """The OAuth part of `core.yoto.cloud.YotoCloud`."""

    def authorize_request(self, redirect_uri: str, *, state: str | None = None) -> PkceRequest: ...

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> TokenGrant: ...

    def start_device_login(self) -> DeviceCodeStart: ...

    def poll_device_login(self, device_code: str, *, interval: float | None = None) -> DevicePoll: ...


@dataclass(frozen=True)
class LinkRules:
    public_url: str
    allow_http: bool
    client_configured: bool
    login_ttl_s: int

    @classmethod
    def of(cls, settings: Settings) -> LinkRules:
        return cls(
            public_url=settings.public_url.rstrip("/"),
            allow_http=settings.allow_http_public_url,
            client_configured=bool(settings.yoto_client_id),
            login_ttl_s=settings.yoto_login_ttl_s,
        )


@dataclass(frozen=True)
class DeviceLogin:
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: float
    expires_in: int


@dataclass(frozen=True)
class DevicePollResult:
    status: Literal["pending", "linked", "expired"]
    interval: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class LinkStatus:
    linked: bool
    access_expires_at: datetime | None = None
    linked_at: datetime | None = None
    login_pending: bool = False
    device_login_pending: bool = False


def _pkce_key(member: str) -> str:
    return f"yoto-login:{member}"


def _device_key(member: str) -> str:
    return f"yoto-device:{member}"


def forget_link(tokens: TokenRepository, store: SettingsRepository, account: str) -> bool:
    """Forget a member's Yoto link: the tokens, any login in progress and the cached
    player list (what unlinking, disabling and deleting the member do); False when no
    tokens were stored. Idempotent."""
    for key in (_pkce_key(account), _device_key(account), devices_key(account)):
        with contextlib.suppress(NotFound):  # SQLite's delete is idempotent, DynamoDB's raises
            store.delete(key)
    try:
        tokens.delete(account)
    except NotFound:
        return False
    return True


def _state_claim(state: str) -> str:
    return "yoto-state:" + hashlib.sha256(state.encode()).hexdigest()[:32]


class YotoLink:
    def __init__(
        self,
        login: YotoLogin,
        tokens: YotoTokenService,
        token_records: TokenRepository,
        store: SettingsRepository,
        counters: CounterRepository,
        rules: LinkRules,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._login = login
        self._tokens = tokens
        self._token_records = token_records
        self._store = store
        self._counters = counters
        self._rules = rules
        self._now = now

    # ------------------------------------------------------------------ helpers

    def _ready(self) -> None:
        if not self._rules.client_configured:
            raise Conflict(
                "linking a Yoto account needs YOTO_CLIENT_ID (the app's id from Yoto's developer dashboard);"
                " ask whoever runs this service to set it"
            )

    def redirect_uri(self) -> str:
        """Where Yoto sends the browser back; must be registered with Yoto. http:// only for
        this machine (Yoto accepts loopback addresses) or with ALLOW_HTTP_PUBLIC_URL."""
        uri = self._rules.public_url + CALLBACK_PATH
        parts = urlsplit(uri)
        if parts.scheme == "https" or self._rules.allow_http or (parts.hostname or "") in LOOPBACK_HOSTS:
            return uri
        raise Conflict(
            f"PUBLIC_URL is {self._rules.public_url!r}: Yoto sends the browser back to {CALLBACK_PATH} on it, so"
            " it must be https:// (or set ALLOW_HTTP_PUBLIC_URL=true for development)"
        )

    def _pending(self, key: str) -> dict[str, Any] | None:
        try:
            value = self._store.get(key)
        except NotFound:
            return None
        if not isinstance(value, dict):
            return None
        try:
            if datetime.fromisoformat(value["expires_at"]) <= self._now():
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return value

    def _forget(self, key: str) -> None:
        # SQLite's delete is idempotent, DynamoDB's raises NotFound: either is fine here.
        with contextlib.suppress(NotFound):
            self._store.delete(key)

    # ------------------------------------------------------------------ PKCE

    def start_login(self, user: User) -> str:
        """The Yoto authorize URL to send the browser to; the login waits server side."""
        self._ready()
        request = self._login.authorize_request(self.redirect_uri())
        expires = self._now() + timedelta(seconds=self._rules.login_ttl_s)
        self._store.put(
            _pkce_key(user.owner_id),
            {
                "state": request.state,
                "verifier": request.code_verifier,
                "redirect_uri": request.redirect_uri,
                "expires_at": expires.isoformat(),
            },
        )
        return request.url

    def finish_login(self, user: User, *, state: str | None, code: str | None, error: str | None) -> str | None:
        """Check `state`, then exchange `code` and keep the tokens. Answers None
        when linked, or Yoto's error when the person did not approve.
        `Forbidden` for a forged, foreign, expired or replayed state: no code is exchanged then."""
        key = _pkce_key(user.owner_id)
        pending = self._pending(key)
        expected = str(pending.get("state", "")).encode() if pending is not None else b""
        if not state or not expected or not hmac.compare_digest(expected, state.encode("utf-8", "surrogatepass")):
            raise Forbidden(BAD_STATE)
        won = False
        try:
            won = self._counters.add(_state_claim(state), 1, ttl_s=self._rules.login_ttl_s + 60) == 1
        finally:
            self._forget(key)
        if not won:
            raise Forbidden(BAD_STATE)
        if error or not code:
            return error or "Yoto sent no login code"
        grant = self._login.exchange_code(code, code_verifier=pending["verifier"], redirect_uri=pending["redirect_uri"])
        self._tokens.store_new_link(user.owner_id, grant)
        return None

    # ------------------------------------------------------------------ device code

    def start_device_login(self, user: User) -> DeviceLogin:
        self._ready()
        start = self._login.start_device_login()
        now = self._now()
        self._store.put(
            _device_key(user.owner_id),
            {
                "device_code": start.device_code,
                "interval": start.interval,
                "next_poll_at": (now + timedelta(seconds=start.interval)).isoformat(),
                "expires_at": (now + timedelta(seconds=start.expires_in)).isoformat(),
            },
        )
        return DeviceLogin(
            user_code=start.user_code,
            verification_uri=start.verification_uri,
            verification_uri_complete=start.verification_uri_complete,
            interval=start.interval,
            expires_in=start.expires_in,
        )

    def poll_device_login(self, user: User) -> DevicePollResult:
        """One look at the device login. Yoto is asked at most once per interval
        (a poll sooner answers `pending` without asking); `slow_down` widens the interval."""
        key = _device_key(user.owner_id)
        pending = self._pending(key)
        if pending is None:
            return DevicePollResult("expired", detail="no device login is waiting: start one")
        interval = float(pending.get("interval") or 5)
        now = self._now()
        next_at = datetime.fromisoformat(pending["next_poll_at"])
        if now < next_at:
            return DevicePollResult("pending", interval=max(0.0, (next_at - now).total_seconds()))
        poll = self._login.poll_device_login(pending["device_code"], interval=interval)
        if poll.status in ("pending", "slow_down"):
            interval = poll.interval or interval
            self._store.put(
                key, {**pending, "interval": interval, "next_poll_at": (now + timedelta(seconds=interval)).isoformat()}
            )
            return DevicePollResult("pending", interval=interval)
        self._forget(key)
        if poll.status == "linked" and poll.grant is not None:
            self._tokens.store_new_link(user.owner_id, poll.grant)
            return DevicePollResult("linked")
        if poll.status == "denied":
            return DevicePollResult("expired", detail="the login was refused on Yoto's page: start again")
        return DevicePollResult("expired", detail="the code expired before it was approved: start again")

    # ------------------------------------------------------------------ status

    def status(self, user: User) -> LinkStatus:
        try:
            stored = self._token_records.get(user.owner_id)
        except NotFound:
            stored = None
        return LinkStatus(
            linked=stored is not None,
            access_expires_at=stored.expires_at if stored else None,
            linked_at=stored.updated_at if stored else None,
            login_pending=self._pending(_pkce_key(user.owner_id)) is not None,
            device_login_pending=self._pending(_device_key(user.owner_id)) is not None,
        )

    def unlink(self, user: User) -> bool:
        """Forget the tokens and any login in progress; False when nothing was linked."""
        return forget_link(self._token_records, self._store, user.owner_id)
