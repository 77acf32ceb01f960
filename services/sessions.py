"""Login sessions: a server-side record and a cookie value that carries only
its signed id, so logout, a password change and disabling a user revoke it."""

from __future__ import annotations

from datetime import timedelta

from core.errors import NotFound, Unauthenticated
from core.ports import Identity, SessionRepository
from core.records import Session, User, new_id, utcnow
from services.signing import sign, verify

MAX_COOKIE_CHARS = 200
NOT_LOGGED_IN = "not logged in"
REVOKED = "session expired or revoked"


def start(sessions: SessionRepository, cookie_key: bytes, username: str, *, max_age_s: int) -> tuple[Session, str]:
    """A new session (a fresh id at every login) and its cookie value."""
    now = utcnow()
    session = Session(id=new_id(24), username=username, created_at=now, expires_at=now + timedelta(seconds=max_age_s))
    sessions.add(session)
    return session, f"{session.id}.{sign(cookie_key, session.id)}"


def session_id(cookie_key: bytes, cookie: str | None) -> str | None:
    """The session id of a cookie value with a valid signature, else None."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return None
    sid, dot, sig = cookie.rpartition(".")
    if not dot or not sid or not verify(cookie_key, sid, sig):
        return None
    return sid


def live(sessions: SessionRepository, sid: str) -> Session | None:
    try:
        return sessions.get(sid)
    except NotFound:
        return None


def end(sessions: SessionRepository, sid: str | None) -> None:
    """Idempotent: revokes the session when there is one."""
    if sid is not None:
        sessions.delete(sid)


def user_of(sessions: SessionRepository, identity: Identity, sid: str | None) -> User:
    """The enabled user behind a live session, else `Unauthenticated`."""
    if sid is None:
        raise Unauthenticated(NOT_LOGGED_IN)
    session = live(sessions, sid)
    if session is None:
        raise Unauthenticated(REVOKED)
    try:
        user = identity.get_user(session.username)
    except NotFound:
        raise Unauthenticated(REVOKED) from None
    if user.disabled:
        raise Unauthenticated("account disabled")
    return user
