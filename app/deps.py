"""FastAPI dependencies shared by the routers: the adapter set, the signing
keys, the logged-in user (cookie → signed session id → live session → enabled
user, plus the CSRF check for state-changing methods) and the admin gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie

from adapters import Adapters, get_adapters
from app.csrf import UNSAFE_METHODS, check_origin
from app.keys import keys_for
from core.records import User
from services import sessions
from services.ingest import IngestLimits, scratch_base
from services.library import LibraryPorts
from services.members import Members
from services.signing import Keys
from services.users import Family

COOKIE_NAME = "yss_session"


async def adapters() -> Adapters:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, and
    this one only returns the process-wide set (built once, cheaply)."""
    return get_adapters()


AdaptersDep = Annotated[Adapters, Depends(adapters)]


async def keys(adapters: AdaptersDep) -> Keys:
    return keys_for(adapters)


KeysDep = Annotated[Keys, Depends(keys)]


def library_ports(adapters: Adapters) -> LibraryPorts:
    records = adapters.records
    return LibraryPorts(records.audio, records.playlists, records.cards, adapters.storage)


def members(adapters: Adapters) -> Members:
    return Members(adapters.records)


def family(adapters: Adapters) -> Family:
    return Family(adapters.identity, adapters.records, adapters.storage)


def ingest_limits(adapters: Adapters) -> IngestLimits:
    return IngestLimits.of(adapters.settings)


def scratch(adapters: Adapters) -> Path:
    return scratch_base(adapters.settings)


def session_id_from(request: Request, keys: Keys) -> str | None:
    return sessions.session_id(keys.cookie, request.cookies.get(COOKIE_NAME))


# Declares the session cookie in the OpenAPI document (every operation that
# needs a login says so); reading and checking it stays `current_user`'s.
session_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    scheme_name="session",
    description="the cookie POST /api/auth/login sets; unsafe methods also need an allowed Origin",
    auto_error=False,
)


def current_user(
    request: Request, adapters: AdaptersDep, keys: KeysDep, _: Annotated[str | None, Security(session_cookie)]
) -> User:
    sid = session_id_from(request, keys)
    if sid is not None and request.method in UNSAFE_METHODS:
        check_origin(request, adapters.settings)
    return sessions.user_of(adapters.records.sessions, adapters.identity, members(adapters), sid)


UserDep = Annotated[User, Depends(current_user)]


def admin_user(user: UserDep) -> User:
    if not user.is_admin:
        raise HTTPException(403, "only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(admin_user)]
