"""The fake authorization server: PKCE codes, device codes, rotating refresh tokens.

A grant is one chain: everything issued from one code exchange or one device
approval, including every rotated refresh token and every access token that
came from them. Presenting a refresh token that was already rotated away is
treated as theft, as rotating issuers do: the whole chain is revoked, so the
legitimate holder's newest tokens die too. That is what makes a client that
refreshes twice in parallel fail loudly here instead of in production.

Error statuses follow Auth0 (403 for invalid_grant and the device-flow
answers, 400 for malformed requests, 401 for an unknown client); RFC 6749
would say 400, so a client should decide by the `error` field. A login that
asks for a scope the app has not pre-approved is refused as Yoto refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from simulator.cloud.clock import SimClock
from simulator.cloud.config import DEFAULT_SCOPE, CloudConfig
from simulator.cloud.http import with_query

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class AuthorizeRefused(Exception):
    """The request cannot be sent back to its redirect_uri (unknown client or URI): show a page."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode()).digest())


@dataclass
class Grant:
    id: str
    account: str
    client_id: str
    scope: str
    created_at: float
    revoked_at: float | None = None
    revoke_reason: str | None = None

    @property
    def alive(self) -> bool:
        return self.revoked_at is None


@dataclass
class AccessRecord:
    token: str
    grant_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshRecord:
    token: str
    grant_id: str
    parent: str | None
    used_at: float | None = None


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    account: str
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class DeviceAuth:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: float
    last_poll_at: float | None = None
    status: str = "pending"  # pending | approved | denied | consumed
    account: str | None = None


@dataclass
class TokenStats:
    tokens_issued: int = 0
    refreshes: int = 0
    reuse_detected: int = 0
    codes_replayed: int = 0
    chains_revoked: int = 0


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _user_code() -> str:
    letters = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalise_user_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def unapproved_scopes(requested: str, approved: list[str]) -> str | None:
    """The OAuth error description when `requested` holds a scope not in `approved`, else None."""
    extra = [s for s in requested.split() if s not in approved]
    if not extra:
        return None
    return f"Client is requesting scopes that have not been pre-approved: {' '.join(extra)}"


class TokenAuthority:
    def __init__(self, config: CloudConfig, clock: SimClock, base_url: Callable[[], str]) -> None:
        self._config = config
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.RLock()
        self._key = secrets.token_bytes(32)
        self._grants: dict[str, Grant] = {}
        self._access: dict[str, AccessRecord] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._codes: dict[str, AuthCode] = {}
        self._devices: dict[str, DeviceAuth] = {}
        self.stats = TokenStats()

    # ---- authorization code with PKCE

    def authorize(self, params: dict[str, str], account: str) -> str:
        """The Location to send the browser to (auto-approving consent)."""
        cfg = self._config
        client_id = params.get("client_id", "")
        if not cfg.known_client(client_id):
            raise AuthorizeRefused(f"Unknown client_id {client_id!r}.")
        redirect_uri = params.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise AuthorizeRefused("redirect_uri must be an absolute http(s) URL without a fragment.")
        if cfg.redirect_uris is not None and redirect_uri not in cfg.redirect_uris:
            raise AuthorizeRefused(f"redirect_uri {redirect_uri!r} is not registered for this client.")
        back = {"state": params["state"]} if "state" in params else {}

        def refuse(error: str, description: str) -> str:
            return with_query(redirect_uri, {"error": error, "error_description": description, **back})

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "response_type must be 'code'")
        challenge = params.get("code_challenge", "")
        if not challenge:
            return refuse("invalid_request", "code_challenge is required (PKCE)")
        if params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256")
        audience = params.get("audience")
        if audience is not None and audience != cfg.audience:
            return refuse("invalid_request", f"Service not found: {audience}")
        unapproved = unapproved_scopes(params.get("scope", ""), cfg.approved_scopes)
        if unapproved:
            return refuse("access_denied", unapproved)
        if not cfg.auto_consent:
            return refuse("access_denied", "The user did not allow access")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = AuthCode(
                code=code,
                client_id=client_id,
                redirect_uri=redirect_uri,
                challenge=challenge,
                scope=params.get("scope", ""),
                account=account,
                expires_at=self._clock.now() + cfg.code_ttl_s,
            )
        return with_query(redirect_uri, {"code": code, **back})

    def _exchange_code(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            rec = self._codes.get(params.get("code", ""))
            if rec is None:
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            if rec.used:
                # RFC 6749 4.1.2: a replayed code revokes what it produced.
                self.stats.codes_replayed += 1
                if rec.grant_id:
                    self._revoke(rec.grant_id, "authorization code replayed")
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            rec.used = True  # any attempt spends the code, so a verifier cannot be guessed
            if self._clock.now() >= rec.expires_at:
                raise OAuthError(403, "invalid_grant", "Authorization code expired")
            if params.get("client_id") != rec.client_id:
                raise OAuthError(403, "invalid_grant", "client_id does not match the authorization request")
            if params.get("redirect_uri") != rec.redirect_uri:
                raise OAuthError(403, "invalid_grant", "redirect_uri does not match the authorization request")
            verifier = params.get("code_verifier", "")
            if not verifier:
                raise OAuthError(400, "invalid_request", "Parameter 'code_verifier' is required")
            if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(s256(verifier), rec.challenge):
                raise OAuthError(403, "invalid_grant", "Failed to verify code verifier")
            grant = self._new_grant(rec.account, rec.client_id, rec.scope)
            rec.grant_id = grant.id
            return self._issue(grant, parent=None)

    # ---- device code

    def start_device(self, params: dict[str, str]) -> dict[str, Any]:
        cfg = self._config
        client_id = params.get("client_id", "")
        if not cfg.known_client(client_id):
            raise OAuthError(401, "invalid_client", f"Unknown client_id {client_id!r}")
        audience = params.get("audience")
        if audience is not None and audience != cfg.audience:
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")
        unapproved = unapproved_scopes(params.get("scope", ""), cfg.approved_scopes)
        if unapproved:
            raise OAuthError(403, "access_denied", unapproved)
        with self._lock:
            user_code = _user_code()
            while any(d.user_code == user_code for d in self._devices.values()):
                user_code = _user_code()
            device = DeviceAuth(
                device_code=secrets.token_urlsafe(32),
                user_code=user_code,
                client_id=client_id,
                scope=params.get("scope", ""),
                expires_at=self._clock.now() + cfg.device_code_ttl_s,
                interval=cfg.device_interval_s,
            )
            self._devices[device.device_code] = device
        uri = f"{self._base_url()}/activate"
        return {
            "device_code": device.device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "verification_uri_complete": with_query(uri, {"user_code": user_code}),
            "expires_in": math.ceil(cfg.device_code_ttl_s),
            "interval": _number(cfg.device_interval_s),
        }

    def decide_device(self, user_code: str, account: str, approve: bool = True) -> None:
        """Approve (or deny) a pending device code; ValueError when there is none."""
        wanted = normalise_user_code(user_code)
        with self._lock:
            for device in self._devices.values():
                if normalise_user_code(device.user_code) != wanted:
                    continue
                if device.status != "pending":
                    raise ValueError("this code was already used")
                if self._clock.now() >= device.expires_at:
                    raise ValueError("this code has expired")
                device.status = "approved" if approve else "denied"
                device.account = account
                return
        raise ValueError("unknown code")

    def pending_user_codes(self) -> list[str]:
        now = self._clock.now()
        with self._lock:
            return [d.user_code for d in self._devices.values() if d.status == "pending" and now < d.expires_at]

    def _poll_device(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            device = self._devices.get(params.get("device_code", ""))
            if device is None or device.client_id != params.get("client_id"):
                raise OAuthError(403, "invalid_grant", "Invalid device code")
            now = self._clock.now()
            if device.status == "consumed":
                raise OAuthError(403, "invalid_grant", "Device code already used")
            if now >= device.expires_at:
                raise OAuthError(403, "expired_token", "The device code has expired; start again")
            if device.status == "denied":
                raise OAuthError(403, "access_denied", "The user denied access")
            previous, device.last_poll_at = device.last_poll_at, now
            if previous is not None and now - previous < device.interval:
                device.interval += self._config.slow_down_increment_s
                raise OAuthError(403, "slow_down", f"Polling too fast; wait {_number(device.interval)} s")
            if device.status == "pending":
                raise OAuthError(403, "authorization_pending", "User has yet to authorize device code.")
            device.status = "consumed"
            grant = self._new_grant(device.account or "", device.client_id, device.scope)
            return self._issue(grant, parent=None)

    # ---- refresh with rotation and reuse detection

    def _refresh_grant(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            rec = self._refresh.get(params.get("refresh_token", ""))
            grant = self._grants.get(rec.grant_id) if rec else None
            if rec is None or grant is None or grant.client_id != params.get("client_id"):
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            if not grant.alive:
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            if rec.used_at is not None:
                if self._config.reuse_detection:
                    self.stats.reuse_detected += 1
                    self._revoke(grant.id, "refresh token reused")
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            self.stats.refreshes += 1
            if not self._config.rotate_refresh_tokens:
                return self._issue(grant, parent=None, with_refresh=False)
            rec.used_at = self._clock.now()
            return self._issue(grant, parent=rec.token)

    # ---- the token endpoint

    def token(self, params: dict[str, str]) -> dict[str, Any]:
        grant_type = params.get("grant_type", "")
        if not self._config.known_client(params.get("client_id", "")):
            raise OAuthError(401, "invalid_client", "Unknown client_id")
        if grant_type == "authorization_code":
            return self._exchange_code(params)
        if grant_type == "refresh_token":
            return self._refresh_grant(params)
        if grant_type == DEVICE_GRANT:
            return self._poll_device(params)
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type or '(none)'}")

    # ---- issuing and checking

    def _new_grant(self, account: str, client_id: str, scope: str) -> Grant:
        grant = Grant(secrets.token_hex(8), account, client_id, scope, self._clock.now())
        self._grants[grant.id] = grant
        return grant

    def _revoke(self, grant_id: str, reason: str) -> None:
        grant = self._grants[grant_id]
        if grant.alive:
            grant.revoked_at = self._clock.now()
            grant.revoke_reason = reason
            self.stats.chains_revoked += 1

    def _jwt(self, grant: Grant, now: float, expires_at: float) -> str:
        base = self._base_url()
        header = {"alg": "HS256", "typ": "JWT", "kid": "yoto-sim"}
        claims = {
            "iss": f"{base}/",
            "sub": f"auth0|{grant.account}",
            "aud": [self._config.audience, f"{base}/userinfo"],
            "iat": int(now),
            "exp": math.ceil(expires_at),
            "azp": grant.client_id,
            "scope": grant.scope,
            "jti": secrets.token_hex(8),
        }
        signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(signature)}"

    def _issue(self, grant: Grant, parent: str | None, with_refresh: bool = True) -> dict[str, Any]:
        now = self._clock.now()
        ttl = self._config.access_ttl_s
        access = self._jwt(grant, now, now + ttl)
        self._access[access] = AccessRecord(access, grant.id, now + ttl)
        self.stats.tokens_issued += 1
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": max(0, math.ceil(ttl)),
            "scope": grant.scope,
        }
        if with_refresh and "offline_access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = RefreshRecord(refresh, grant.id, parent)
            answer["refresh_token"] = refresh
        return answer

    def issue_tokens(self, account: str, scope: str = DEFAULT_SCOPE, client_id: str | None = None) -> dict[str, Any]:
        """A token answer as if the account had just linked (tests that skip the login)."""
        with self._lock:
            grant = self._new_grant(account, client_id or self._config.client_id, scope)
            return self._issue(grant, parent=None)

    def account_for(self, token: str) -> str:
        """The account an access token acts for; PermissionError(reason) when it cannot be used."""
        with self._lock:
            rec = self._access.get(token)
            if rec is None:
                raise PermissionError("Invalid token")
            grant = self._grants[rec.grant_id]
            if rec.revoked or not grant.alive:
                raise PermissionError("Token has been revoked")
            if self._clock.now() >= rec.expires_at:
                raise PermissionError("Token has expired")
            return grant.account

    def expire_access_tokens(self) -> int:
        now = self._clock.now()
        with self._lock:
            for rec in self._access.values():
                rec.expires_at = min(rec.expires_at, now)
            return len(self._access)

    def revoke_access_tokens(self) -> int:
        with self._lock:
            for rec in self._access.values():
                rec.revoked = True
            return len(self._access)

    def token_info(self, token: str) -> dict[str, Any] | None:
        now = self._clock.now()
        with self._lock:
            if token in self._access:
                acc = self._access[token]
                grant = self._grants[acc.grant_id]
                active = grant.alive and not acc.revoked and now < acc.expires_at
                return {
                    "kind": "access",
                    "grant": grant.id,
                    "account": grant.account,
                    "active": active,
                    "expires_at": acc.expires_at,
                    "chain_alive": grant.alive,
                }
            if token in self._refresh:
                ref = self._refresh[token]
                grant = self._grants[ref.grant_id]
                return {
                    "kind": "refresh",
                    "grant": grant.id,
                    "account": grant.account,
                    "active": grant.alive and ref.used_at is None,
                    "used": ref.used_at is not None,
                    "chain_alive": grant.alive,
                    "revoke_reason": grant.revoke_reason,
                }
            return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            s = self.stats
            return {
                "tokens_issued": s.tokens_issued,
                "refreshes": s.refreshes,
                "reuse_detected": s.reuse_detected,
                "codes_replayed": s.codes_replayed,
                "chains_revoked": s.chains_revoked,
                "chains_alive": sum(1 for g in self._grants.values() if g.alive),
            }
