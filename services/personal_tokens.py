"""Personal access tokens: a long random secret a member makes for scripts and
assistants (`Authorization: Bearer`), shown once, kept only as a keyed SHA-256.
A token acts as its owner, never more, narrowed by its scopes (`Caller.may`);
each is one settings record (`pat:<id>`), so revoking it is one delete.
Reasoning: docs/security.md, "Personal access tokens"."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from core.ports import Identity, SettingsRepository
from core.records import User, new_id, utcnow
from services.members import Members

SCOPES = ("read", "cards", "players")
KEY_PREFIX = "pat:"
TOKEN_PREFIX = "yss_"
MAX_PER_MEMBER = 20
MAX_EXPIRES_DAYS = 366
MAX_TOKEN_CHARS = 200
REFUSED = "invalid, expired or revoked token"

# What a token's scopes let it change over HTTP, by path prefix; reading needs any scope.
# A path under none of these (tokens, users, the Yoto link, podcasts, routines, storage) a token never changes.
CHANGES = (
    ("cards", ("/api/audio", "/api/tts", "/api/cards", "/api/icons", "/api/playlists", "/api/stories")),
    ("players", ("/api/players", "/api/announcements")),
)
# Never through a token, not even to read: managing tokens and the login itself, and linking Yoto.
SESSION_ONLY = ("/api/tokens", "/api/auth", "/api/yoto")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class TokenPorts:
    settings: SettingsRepository
    identity: Identity
    members: Members
    key: bytes  # the HMAC key token secrets are hashed with (derived from the session secret)


@dataclass(frozen=True)
class PersonalToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    username: str
    member_id: str
    created_at: datetime
    expires_at: datetime

    def body(self, digest: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "username": self.username,
            "member_id": self.member_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "hash": digest,
        }

    @classmethod
    def of(cls, body: dict[str, Any]) -> PersonalToken:
        return cls(
            id=str(body["id"]),
            name=str(body["name"]),
            scopes=tuple(body["scopes"]),
            username=str(body["username"]),
            member_id=str(body["member_id"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )


@dataclass(frozen=True)
class Caller:
    """Who is asking and with what: a login session (`scopes` None: every right the
    user has) or a personal access token (its scopes narrow the user's rights)."""

    user: User
    scopes: frozenset[str] | None = None
    token_id: str | None = None

    def may(self, scope: str) -> bool:
        """`read` is every caller's; `cards` and `players` a session's or a token's that has them."""
        return self.scopes is None or scope == "read" or scope in self.scopes

    def require(self, scope: str, doing: str) -> None:
        if not self.may(scope):
            raise Forbidden(
                f"this token's scopes ({', '.join(sorted(self.scopes or ()))}) do not allow {doing}: "
                f"it needs the {scope!r} scope"
            )


def key_of(token_id: str) -> str:
    return f"{KEY_PREFIX}{token_id}"


def _digest(key: bytes, secret: str) -> str:
    return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _scopes(asked: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(asked) - set(SCOPES))
    if unknown:
        raise Invalid(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
    if not asked:
        raise Invalid(f"a token needs at least one scope of {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in asked)


def create(
    ports: TokenPorts, user: User, name: str, scopes: list[str] | tuple[str, ...], expires_days: int
) -> tuple[PersonalToken, str]:
    """A new token for `user` and its secret (the one time it is ever shown)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise Invalid("a token's name is 1 to 100 characters")
    if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise Invalid(f"expires_days is 1 to {MAX_EXPIRES_DAYS}")
    chosen = _scopes(scopes)
    if len(list_for(ports, user)) >= MAX_PER_MEMBER:
        raise Conflict(f"you have {MAX_PER_MEMBER} tokens already: revoke one first")
    now = utcnow()
    token = PersonalToken(
        id=new_id(16),
        name=name,
        scopes=chosen,
        username=user.username,
        member_id=user.owner_id,
        created_at=now,
        expires_at=now + timedelta(days=expires_days),
    )
    secret = secrets.token_urlsafe(32)
    ports.settings.put(key_of(token.id), token.body(_digest(ports.key, secret)))
    return token, f"{TOKEN_PREFIX}{token.id}_{secret}"


def _stored(ports: TokenPorts, token_id: str) -> tuple[PersonalToken, str] | None:
    try:
        body = ports.settings.get(key_of(token_id))
    except NotFound:
        return None
    return PersonalToken.of(body), str(body["hash"])


def list_for(ports: TokenPorts, user: User) -> list[PersonalToken]:
    """The member's tokens, newest first (expired ones too, until revoked)."""
    found = []
    for key in ports.settings.list_keys():
        if not key.startswith(KEY_PREFIX):
            continue
        stored = _stored(ports, key.removeprefix(KEY_PREFIX))
        if stored is not None and stored[0].member_id == user.owner_id:
            found.append(stored[0])
    return sorted(found, key=lambda t: t.created_at, reverse=True)


def revoke(ports: TokenPorts, user: User, token_id: str) -> None:
    """Its owner (or an admin) revokes it; the next request with it is refused."""
    stored = _stored(ports, token_id)
    if stored is None or (stored[0].member_id != user.owner_id and not user.is_admin):
        raise NotFound(f"no token {token_id}")
    with contextlib.suppress(NotFound):  # revoked by a concurrent request: the same outcome
        ports.settings.delete(key_of(token_id))


def authenticate(ports: TokenPorts, presented: str) -> Caller:
    """The caller a bearer token stands for, else `Unauthenticated` (one reason for
    every refusal, so a guess learns nothing about which part was wrong)."""
    if len(presented) > MAX_TOKEN_CHARS or not presented.startswith(TOKEN_PREFIX):
        raise Unauthenticated(REFUSED)
    token_id, sep, secret = presented.removeprefix(TOKEN_PREFIX).partition("_")
    if not sep or not token_id.isalnum() or not secret:
        raise Unauthenticated(REFUSED)
    stored = _stored(ports, token_id)
    if stored is None:
        raise Unauthenticated(REFUSED)
    token, digest = stored
    if not hmac.compare_digest(digest.encode(), _digest(ports.key, secret).encode()):
        raise Unauthenticated(REFUSED)
    if token.expires_at <= utcnow():
        raise Unauthenticated(REFUSED)
    try:
        user = ports.identity.get_user(token.username)
        current_member = ports.members.id_of(token.username)
    except NotFound:
        raise Unauthenticated(REFUSED) from None
    # A token older than its user, or made for an earlier member of that name, is dead.
    if token.created_at < user.created_at or current_member != token.member_id:
        raise Unauthenticated(REFUSED)
    if user.disabled:
        raise Unauthenticated("account disabled")
    return Caller(replace(user, id=token.member_id), frozenset(token.scopes), token.id)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def check_request(caller: Caller, method: str, path: str) -> None:
    """`Forbidden` unless the token's scopes allow this HTTP request (a session may do anything its user may)."""
    if caller.scopes is None:
        return
    if any(_under(path, p) for p in SESSION_ONLY):
        raise Forbidden("a personal access token cannot do this: sign in with your password")
    if method.upper() in SAFE_METHODS:
        return
    for scope, prefixes in CHANGES:
        if any(_under(path, p) for p in prefixes):
            caller.require(scope, f"{method.upper()} {path}")
            return
    raise Forbidden("a personal access token cannot change this: sign in with your password")
