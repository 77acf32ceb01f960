"""The Yoto client's OAuth calls: the PKCE browser login (RFC 7636), the code
exchange, the device-code login and the token refresh. A token call is never
resent once it may have reached Yoto (docs/yoto.md)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.yoto.retrying import RetryingHttp, _json, _Unanswered, yoto_message
from core.errors import ConfigError, RelinkNeeded, UpstreamError, UpstreamRejected
from core.yoto.cloud import RELINK_MESSAGE, DeviceCodeStart, DevicePoll, PkceRequest, TokenGrant

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_DEFAULT_EXPIRES_S = 3600


def _oauth_error(resp: httpx.Response) -> str | None:
    body = _json(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


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


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthCalls(RetryingHttp):
    """Logins and tokens, against `auth_url`."""

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
