"""Login sessions: a server-side record and a cookie value that carries only
its signed id, so logout, a password change and disabling a user revoke it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from core.errors import NotFound, Unauthenticated
from core.ports import CounterRepository, Identity, SessionRepository
from core.records import Session, User, new_id, utcnow
from services.login import BAD_LOGIN, LoginLimits
from services.login import log_in as check_login
from services.members import Members
from services.signing import sign, verify

if TYPE_CHECKING:
    from services.password_fallback import Fallbacks

MAX_COOKIE_CHARS = 200
NOT_LOGGED_IN = "not logged in"
REVOKED = "session expired or revoked"


def start(
    sessions: SessionRepository, cookie_key: bytes, username: str, *, max_age_s: int, member_id: str = ""
) -> tuple[Session, str]:
    """A new session (a fresh id at every login) and its cookie value; `member_id` is
    the member it is for (`log_in` resolves it; "" is resolved on every request)."""
    now = utcnow()
    session = Session(
        id=new_id(24),
        username=username,
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_s),
        member_id=member_id,
    )
    sessions.add(session)
    return session, f"{session.id}.{sign(cookie_key, session.id)}"


def log_in(
    sessions: SessionRepository, members: Members, cookie_key: bytes, user: User, *, max_age_s: int
) -> tuple[User, str]:
    """A session for a user whose password was just checked: (the user with their member
    id, the cookie). A member being deleted gets none: the tombstone is looked at again
    once the session exists, and a delete writes it before it ends the member's sessions."""
    try:
        member = members.resolved(user)
        session, cookie = start(sessions, cookie_key, user.username, max_age_s=max_age_s, member_id=member.id)
        if members.id_of(user.username) != member.id:
            sessions.delete(session.id)
            raise NotFound(user.username)
    except NotFound:
        raise Unauthenticated(BAD_LOGIN) from None
    return member, cookie


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


@dataclass(frozen=True)
class SignInPorts:
    """A login from the password check to the new session: identity, the
    throttle's counters and limits, migration fallbacks, sessions and members."""

    identity: Identity
    counters: CounterRepository
    limits: LoginLimits
    fallbacks: Fallbacks
    sessions: SessionRepository
    members: Members
    cookie_key: bytes
    max_age_s: int


def sign_in(
    ports: SignInPorts, username: str, password: str, client: str, *, replacing: str | None
) -> tuple[User, str]:
    """Check the password (throttled per name and address), end the session the
    request came with (`replacing`), start a new one: (the user, the cookie)."""
    user = check_login(
        ports.identity, ports.counters, ports.limits, username, password, client, fallbacks=ports.fallbacks
    )
    end(ports.sessions, replacing)
    _, cookie = log_in(ports.sessions, ports.members, ports.cookie_key, user, max_age_s=ports.max_age_s)
    return user, cookie


def user_of(sessions: SessionRepository, identity: Identity, members: Members, sid: str | None) -> User:
    """The enabled user behind a live session, with the member id the session was
    made for, else `Unauthenticated`. A session older than its user belongs to an
    earlier member of that name; one made before member ids is resolved here."""
    if sid is None:
        raise Unauthenticated(NOT_LOGGED_IN)
    session = live(sessions, sid)
    if session is None:
        raise Unauthenticated(REVOKED)
    try:
        user = identity.get_user(session.username)
        if session.created_at < user.created_at:
            raise NotFound(session.username)
        member = session.member_id or members.id_of(user.username)
    except NotFound:
        raise Unauthenticated(REVOKED) from None
    if user.disabled:
        raise Unauthenticated("account disabled")
    return replace(user, id=member)
