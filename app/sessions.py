"""Login sessions: a server-side record in `records.sessions` and a cookie
that carries only its signed id, so logout and disabling a user revoke it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from adapters import Adapters
from app.keys import keys_for
from app.signing import sign, verify
from core.errors import NotFound
from core.records import Session, new_id, utcnow

COOKIE_NAME = "yss_session"
_PLAIN_HTTP_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def start_session(adapters: Adapters, username: str) -> tuple[Session, str]:
    """A new session (a fresh id at every login) and its cookie value."""
    now = utcnow()
    session = Session(
        id=new_id(24),
        username=username,
        created_at=now,
        expires_at=now + timedelta(seconds=adapters.settings.session_max_age_s),
    )
    adapters.records.sessions.add(session)
    return session, f"{session.id}.{sign(keys_for(adapters).cookie, session.id)}"


def session_id_from(request: Request, adapters: Adapters) -> str | None:
    """The session id of a cookie with a valid signature, else None."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or len(raw) > 200:
        return None
    sid, dot, sig = raw.rpartition(".")
    if not dot or not sid or not verify(keys_for(adapters).cookie, sid, sig):
        return None
    return sid


def live_session(adapters: Adapters, sid: str) -> Session | None:
    try:
        return adapters.records.sessions.get(sid)
    except NotFound:
        return None


def cookie_secure(request: Request) -> bool:
    """Secure except for plain http to this machine (local development)."""
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _PLAIN_HTTP_HOSTS)


def set_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=cookie_secure(request))
