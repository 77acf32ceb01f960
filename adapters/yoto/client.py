"""`YotoClient`: the one module that speaks HTTP to the Yoto cloud.

Every Yoto URL is built here. Calls are synchronous (the API runs them in
worker threads) and share one httpx connection pool, which is thread-safe.

Retries: 429 and 5xx are retried with jittered exponential backoff, honouring
`Retry-After`, for at most `max_tries` attempts and `max_wait_s` seconds of
waiting in all; a refused connection is retried the same way (nothing reached
Yoto). A timeout is never retried: the request may have been processed
(a rotated refresh token sent twice can revoke the whole token chain) and
waiting `max_tries` timeouts would outlast the API's own deadline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import httpx

from adapters.yoto import cards
from core.errors import (
    ConfigError,
    NotFound,
    RateLimited,
    RelinkNeeded,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from core.records import utcnow
from core.settings import Settings
from core.yoto import (
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
# The device and library scope spellings are unverified (docs/yoto.md): pass
# `scope=` to change them.
DEFAULT_SCOPE = "openid profile offline_access user:content:manage family:devices:view family:devices:control"
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


def _opt_bool(*values: Any) -> bool | None:
    for v in values:
        if isinstance(v, bool):
            return v
    return None


def _opt_int(*values: Any) -> int | None:
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return int(v)
    return None


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class YotoClient:
    """Implements `core.yoto.YotoCloud` over httpx. Build one per process
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
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth_url = auth_url.rstrip("/")
        self.client_id = client_id
        self.scope = scope
        self.audience = audience
        self.max_tries = max(1, max_tries)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_wait_s = max_wait_s
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

    def _send(self, method: str, url: str, *, what: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """The final answer after retries: a 2xx or a status that is not retried.
        Raises for timeouts and for retryable failures that outlast the budget."""
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
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(f"Yoto did not answer in time ({what})") from exc
            except httpx.ConnectError as exc:
                failure = f"could not connect: {exc}"
            except httpx.TransportError as exc:
                raise UpstreamError(f"the connection to Yoto failed ({what}): {exc}") from exc
            else:
                if resp.status_code not in _RETRY_STATUSES:
                    return resp
                failure = f"{resp.status_code} {resp.reason_phrase}: {yoto_message(resp)}"
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
        return self._send("POST", f"{self.auth_url}/oauth/token", what=what, data=dict(form))

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
        resp = self._send("GET", f"{self.api_url}/device-v2/{_seg(device_id)}/status", what=what, token=token)
        if resp.status_code == 403:
            return None
        body = self._check(resp, what=what, missing=f"Yoto has no player {device_id!r}")
        s = body if isinstance(body, dict) else {}
        for wrapper in ("device", "status"):
            if isinstance(s.get(wrapper), dict):
                s = s[wrapper]
        card = s.get("activeCard")
        return DeviceStatus(
            device_id=device_id,
            online=_opt_bool(s.get("isOnline"), s.get("online")),
            battery_percent=_opt_int(s.get("batteryLevelPercentage"), s.get("batteryLevel")),
            charging=_opt_bool(s.get("isCharging"), s.get("charging")),
            volume_percent=_opt_int(s.get("userVolumePercentage"), s.get("systemVolumePercentage")),
            active_card=card if isinstance(card, str) and card not in ("", "none") else None,
            raw=s,
        )

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
        sent = cards.card_json(card)
        what = "update the card" if card.card_id else "create the card"
        missing = f"Yoto has no card {card.card_id!r}" if card.card_id else None
        body = self._api("POST", "/content", token, what=what, missing=missing, json=sent)
        stored = cards.unwrap_card(body)
        if not isinstance(stored.get("content"), dict):
            # An answer that names the card but does not echo it: what we sent is what it holds.
            stored = {**sent, **stored, "content": sent["content"]}
        return cards.parse_card(stored)

    def get_card(self, token: str, card_id: str) -> YotoCard:
        body = self._api(
            "GET", f"/content/{_seg(card_id)}", token, what="read the card", missing=f"Yoto has no card {card_id!r}"
        )
        return cards.parse_card(body)

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
