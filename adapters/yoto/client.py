"""`YotoClient`: the one module that speaks HTTP to the Yoto cloud.

Every Yoto URL is built here. Calls are synchronous (the API runs them in
worker threads) and share one httpx connection pool, which is thread-safe.
Retries, and what is never resent (token calls, card creates), are described
in docs/yoto.md ("Retries and lost answers").
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import httpx

from adapters.yoto import cards
from core.errors import (
    ConfigError,
    Conflict,
    DomainError,
    NotFound,
    RateLimited,
    RelinkNeeded,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from core.records import utcnow
from core.settings import Settings
from core.yoto.cloud import (
    DEFAULT_SCOPES,
    RELINK_MESSAGE,
    AccessTokenRejected,
    CardSummary,
    CoverImage,
    Device,
    DeviceCodeStart,
    DeviceConfig,
    DevicePoll,
    DeviceStatus,
    Icon,
    PkceRequest,
    TokenGrant,
    YotoCard,
)

AUDIENCE = "https://api.yotoplay.com"
DEFAULT_SCOPE = DEFAULT_SCOPES
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_EXPIRES_S = 3600


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


def _oauth_error(resp: httpx.Response) -> str | None:
    body = _json(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


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


def _jwt_expiry_s(token: str) -> int | None:
    """Seconds until the `exp` claim of a JWT access token (no signature check:
    only a fallback when the token answer has no `expires_in`)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return max(0, int(claims["exp"] - time.time()))
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def _grant(body: Any) -> TokenGrant:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise UpstreamError("Yoto's token answer held no access token")
    access = body["access_token"]
    expires = body.get("expires_in")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        expires = _jwt_expiry_s(access) or _DEFAULT_EXPIRES_S
    refresh = body.get("refresh_token")
    return TokenGrant(
        access_token=access,
        expires_in=int(expires),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=body.get("scope") if isinstance(body.get("scope"), str) else None,
    )


def _opt_int(*values: Any) -> int | None:
    """The first value that is a number (or a string of one: the shadow is loosely typed)."""
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return int(v)
        if isinstance(v, str):
            try:
                return int(float(v))
            except ValueError:
                continue
    return None


def _flag(*values: Any) -> bool | None:
    """A boolean sent as true/false, 0/1 or "0"/"1"."""
    for v in values:
        if isinstance(v, bool):
            return v
        number = _opt_int(v)
        if number is not None:
            return number != 0
    return None


def _temperature(part: str) -> int | None:
    """One side of the shadow's `temp` ("battery:device[:…]"): "0" and "notSupported" mean unknown."""
    value = _opt_int(part)
    return value if value not in (None, 0) else None


def parse_iso(value: Any) -> datetime | None:
    """A Yoto timestamp ("2025-01-02T03:04:05.678Z"); a bare one is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_device_status(device_id: str, device: Mapping[str, Any]) -> DeviceStatus | None:
    """The `device` block of a config answer as a `DeviceStatus`: its `status`
    (the shadow, in Yoto's names and encodings) and its `online`."""
    s = device.get("status")
    online = device.get("online") if isinstance(device.get("online"), bool) else None
    if not isinstance(s, dict):
        return DeviceStatus(device_id=device_id, online=online) if online is not None else None
    parts = s.get("temp").split(":") if isinstance(s.get("temp"), str) else []
    battery_temp = _opt_int(s.get("batteryTemp")) or (_temperature(parts[0]) if parts else None)
    day = _opt_int(s.get("day"))
    free, total = _opt_int(s.get("freeDisk")), _opt_int(s.get("totalDisk"))
    card = s.get("activeCard")
    ssid = s.get("ssid")
    return DeviceStatus(
        device_id=device_id,
        online=online,
        battery_percent=_opt_int(s.get("batteryLevel"), s.get("batteryLevelPercentage")),
        charging=_flag(s.get("charging"), s.get("isCharging")),
        volume_percent=_opt_int(s.get("userVolume"), s.get("userVolumePercentage")),
        max_volume_percent=_opt_int(s.get("volume"), s.get("systemVolumePercentage")),
        active_card=card if isinstance(card, str) and card not in ("", "none") else None,
        headphones=_flag(s.get("headphones")),
        wifi_strength=_opt_int(s.get("wifiStrength")),
        ssid=ssid if isinstance(ssid, str) and ssid else None,
        uptime_s=_opt_int(s.get("upTime")),
        free_disk_bytes=free * 1024 if free is not None else None,
        total_disk_bytes=total * 1024 if total is not None else None,
        temperature_c=_temperature(parts[1]) if len(parts) > 1 else None,
        battery_temperature_c=battery_temp,
        card_inserted=_opt_int(s.get("cardInserted")),
        day_mode=None if day not in (0, 1) else day == 1,
        updated_at=parse_iso(s.get("updatedAt")),
        raw=s,
    )


class _Unanswered(Exception):
    """A request that may have been carried out although no answer said so.
    `finished` is False after a timeout: Yoto may still be working on it."""

    def __init__(self, error: DomainError, *, finished: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.finished = finished


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class YotoClient:
    """Implements `core.yoto.cloud.YotoCloud` over httpx. Build one per process
    (`from_settings`) and share it; `close()` releases its connections."""

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

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> YotoClient:
        return cls(
            api_url=settings.yoto_api_url,
            auth_url=settings.yoto_auth_url,
            client_id=settings.yoto_client_id,
            scope=settings.yoto_scopes,
            **options,
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

    # ------------------------------------------------------------------ OAuth

    def _client_id(self) -> str:
        if not self.client_id:
            raise ConfigError("YOTO_CLIENT_ID is not set: register an app on Yoto's developer dashboard")
        return self.client_id

    def _token_call(self, form: Mapping[str, str], *, what: str) -> httpx.Response:
        """Never resent once it may have reached Yoto: a code is spent by any
        attempt and a rotated refresh token sent twice revokes the chain."""
        try:
            return self._send("POST", f"{self.auth_url}/oauth/token", what=what, resend=False, data=dict(form))
        except _Unanswered as lost:
            raise lost.error from lost

    def authorize_request(self, redirect_uri: str, *, state: str | None = None) -> PkceRequest:
        verifier, challenge = pkce_pair()
        state = state or secrets.token_urlsafe(24)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id(),
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "audience": self.audience,
                "scope": self.scope,
            }
        )
        return PkceRequest(
            url=f"{self.auth_url}/authorize?{query}", state=state, code_verifier=verifier, redirect_uri=redirect_uri
        )

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> TokenGrant:
        what = "exchange the login code"
        resp = self._token_call(
            {
                "grant_type": "authorization_code",
                "client_id": self._client_id(),
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
            },
            what=what,
        )
        if 400 <= resp.status_code < 500:
            raise UpstreamRejected(f"Yoto refused the login: {yoto_message(resp)}", upstream_status=resp.status_code)
        return _grant(self._check(resp, what=what))

    def start_device_login(self) -> DeviceCodeStart:
        what = "start a device login"
        resp = self._send(
            "POST",
            f"{self.auth_url}/oauth/device/code",
            what=what,
            data={"client_id": self._client_id(), "scope": self.scope, "audience": self.audience},
        )
        if resp.status_code == 401:
            raise UpstreamRejected(f"Yoto refused the client id: {yoto_message(resp)}", upstream_status=401)
        body = self._check(resp, what=what)
        try:
            return DeviceCodeStart(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=body.get("verification_uri_complete"),
                expires_in=int(body.get("expires_in") or 900),
                interval=float(body.get("interval") or 5),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"Yoto's device login answer lacks {exc}") from exc

    def poll_device_login(self, device_code: str, *, interval: float | None = None) -> DevicePoll:
        what = "poll the device login"
        resp = self._token_call(
            {"grant_type": DEVICE_GRANT, "client_id": self._client_id(), "device_code": device_code}, what=what
        )
        if 400 <= resp.status_code < 500:
            error = _oauth_error(resp)
            if error == "authorization_pending":
                return DevicePoll("pending", interval=interval)
            if error == "slow_down":
                return DevicePoll("slow_down", interval=(5.0 if interval is None else interval) + 5)
            if error in ("expired_token", "invalid_grant"):
                return DevicePoll("expired")
            if error == "access_denied":
                return DevicePoll("denied")
            reason = yoto_message(resp)
            raise UpstreamRejected(f"Yoto refused the device login: {reason}", upstream_status=resp.status_code)
        return DevicePoll("linked", grant=_grant(self._check(resp, what=what)))

    def refresh(self, refresh_token: str) -> TokenGrant:
        what = "refresh the access token"
        resp = self._token_call(
            {"grant_type": "refresh_token", "client_id": self._client_id(), "refresh_token": refresh_token}, what=what
        )
        if 400 <= resp.status_code < 500 and resp.status_code != 429:
            # invalid_grant (revoked, reused, expired), an unknown client: only a new login helps.
            raise RelinkNeeded(RELINK_MESSAGE, upstream_reason=yoto_message(resp))
        return _grant(self._check(resp, what=what))

    # ------------------------------------------------------------------ players

    def list_devices(self, token: str) -> list[Device]:
        body = self._api("GET", "/device-v2/devices/mine", token, what="list the players")
        devices = body.get("devices") if isinstance(body, dict) else None
        out: list[Device] = []
        for d in devices if isinstance(devices, list) else []:
            if isinstance(d, dict) and isinstance(d.get("deviceId"), str):
                out.append(
                    Device(
                        device_id=d["deviceId"],
                        name=str(d.get("name") or d["deviceId"]),
                        online=bool(d.get("online")),
                        device_type=d.get("deviceType") if isinstance(d.get("deviceType"), str) else None,
                        raw=d,
                    )
                )
        return out

    def device_status(self, token: str, device_id: str) -> DeviceStatus | None:
        what = "read the player's status"
        resp = self._send("GET", f"{self.api_url}/device-v2/{_seg(device_id)}/config", what=what, token=token)
        if resp.status_code == 403:
            return None
        body = self._check(resp, what=what, missing=f"Yoto has no player {device_id!r}")
        device = body.get("device") if isinstance(body, dict) else None
        return parse_device_status(device_id, device) if isinstance(device, dict) else None

    def get_config(self, token: str, device_id: str) -> DeviceConfig:
        body = self._api(
            "GET",
            f"/device-v2/{_seg(device_id)}/config",
            token,
            what="read the player's settings",
            missing=f"Yoto has no player {device_id!r}",
        )
        device = body.get("device") if isinstance(body, dict) and isinstance(body.get("device"), dict) else body
        config = device.get("config") if isinstance(device, dict) else None
        if not isinstance(config, dict):
            raise UpstreamError("Yoto's player settings answer held no config")
        return DeviceConfig(device_id=device_id, config=config, raw=device)

    def put_config(self, token: str, config: DeviceConfig) -> DeviceConfig:
        self._api(
            "PUT",
            f"/device-v2/{_seg(config.device_id)}/config",
            token,
            what="change the player's settings",
            missing=f"Yoto has no player {config.device_id!r}",
            json={"deviceId": config.device_id, "config": dict(config.config)},
        )
        return config

    # ------------------------------------------------------------------ cards

    def save_card(self, token: str, card: YotoCard) -> YotoCard:
        if card.read_only:
            raise Conflict("a card read for playback is never written back to Yoto")
        sent = cards.card_json(card)
        if not card.card_id:
            return self._create_card(token, sent)
        # An update replaces the card whole: sending it twice leaves the same card.
        what = "update the card"
        body = self._api("POST", "/content", token, what=what, missing=f"Yoto has no card {card.card_id!r}", json=sent)
        return self._stored(body, sent)

    @staticmethod
    def _stored(body: Any, sent: dict[str, Any]) -> YotoCard:
        stored = cards.unwrap_card(body)
        if not isinstance(stored.get("content"), dict):
            # An answer that names the card but does not echo it: what we sent is what it holds.
            stored = {**sent, **stored, "content": sent["content"]}
        return cards.parse_card(stored)

    def _create_card(self, token: str, sent: dict[str, Any]) -> YotoCard:
        """`POST /content` is not idempotent: after a lost answer the card Yoto
        may have made is looked for first, and only when it is not there is the
        create sent once more (never after a timeout: Yoto may still be making it)."""
        what = "create the card"
        started = utcnow()
        for attempt in (1, 2):
            try:
                resp = self._send("POST", f"{self.api_url}/content", what=what, token=token, resend=False, json=sent)
            except _Unanswered as lost:
                self._sleep(self._delay(1, None))  # a moment for Yoto's listing to show a card just written
                try:
                    made = self._made_since(token, sent, started)
                except DomainError as exc:
                    raise lost.error from exc  # cannot tell whether it exists: never resend blindly
                if made is not None:
                    return made
                if attempt == 2 or not lost.finished:
                    raise lost.error from lost
                continue
            return self._stored(self._check(resp, what=what), sent)
        raise AssertionError("unreachable")

    def _made_since(self, token: str, sent: dict[str, Any], started: datetime) -> YotoCard | None:
        """The card a lost create made: same title, created since just before the
        request (allowing for clock skew), and exactly the track URLs sent."""
        floor = started - timedelta(seconds=self.reconcile_skew_s)
        urls = cards.track_urls(sent)
        for summary in self.my_cards(token):
            created = parse_iso(summary.raw.get("createdAt"))
            if summary.title != sent["title"] or (created is not None and created < floor):
                continue
            try:
                found = self.get_card(token, summary.card_id)
            except NotFound:
                continue
            if cards.track_urls(found.raw) == urls:
                return found
        return None

    def get_card(self, token: str, card_id: str) -> YotoCard:
        body = self._api(
            "GET", f"/content/{_seg(card_id)}", token, what="read the card", missing=f"Yoto has no card {card_id!r}"
        )
        return cards.parse_card(body)

    def card_for_playback(self, token: str, card_id: str) -> YotoCard:
        try:
            card = self.get_card(token, card_id)
        except NotFound:
            body = self._api(
                "GET", f"/card/{_seg(card_id)}", token, what="read the card", missing=f"Yoto has no card {card_id!r}"
            )
            card = cards.parse_card(body)
        return replace(card, read_only=True)

    def my_cards(self, token: str) -> list[CardSummary]:
        body = self._api("GET", "/content/mine", token, what="list the cards")
        found = body.get("cards") if isinstance(body, dict) else body
        return [s for s in (cards.parse_summary(c) for c in (found if isinstance(found, list) else [])) if s]

    def delete_card(self, token: str, card_id: str) -> None:
        resp = self._send("DELETE", f"{self.api_url}/content/{_seg(card_id)}", what="delete the card", token=token)
        if resp.status_code != 404:
            self._check(resp, what="delete the card")

    # ------------------------------------------------------------------ media

    def public_icons(self, token: str) -> list[Icon]:
        body = self._api("GET", "/media/displayIcons/user/yoto", token, what="list the icons")
        found = body.get("displayIcons") if isinstance(body, dict) else None
        out: list[Icon] = []
        for i in found if isinstance(found, list) else []:
            if not isinstance(i, dict) or not isinstance(i.get("mediaId"), str):
                continue
            tags = i.get("publicTags") or i.get("tags") or []
            out.append(
                Icon(
                    media_id=i["mediaId"],
                    title=str(i.get("title") or ""),
                    tags=tuple(str(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
                    url=i.get("url") if isinstance(i.get("url"), str) else None,
                )
            )
        return out

    def upload_cover(self, token: str, data: bytes, content_type: str) -> CoverImage:
        body = self._api(
            "POST",
            "/media/coverImage/user/me/upload",
            token,
            what="upload the cover image",
            params={"autoconvert": "true", "coverType": "default"},
            content=data,
            headers={"Content-Type": content_type},
        )
        cover = body.get("coverImage") if isinstance(body, dict) else None
        if not isinstance(cover, dict) or not isinstance(cover.get("mediaUrl"), str):
            raise UpstreamError("Yoto's cover upload answer held no image URL")
        media_id = cover.get("mediaId")
        return CoverImage(media_id=media_id if isinstance(media_id, str) else None, media_url=cover["mediaUrl"])
