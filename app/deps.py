"""FastAPI dependencies shared by the routers: the adapter set, the logged-in
user (cookie → signed session id → live session → enabled user, plus the
CSRF check for state-changing methods) and the admin gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from adapters import Adapters, get_adapters
from app.csrf import UNSAFE_METHODS, check_origin
from app.sessions import live_session, session_id_from
from core.errors import NotFound
from core.records import User


async def adapters() -> Adapters:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, and
    this one only returns the process-wide set (built once, cheaply)."""
    return get_adapters()


AdaptersDep = Annotated[Adapters, Depends(adapters)]

NOT_LOGGED_IN = "not logged in"


def current_user(request: Request, adapters: AdaptersDep) -> User:
    sid = session_id_from(request, adapters)
    if sid is None:
        raise HTTPException(401, NOT_LOGGED_IN)
    if request.method in UNSAFE_METHODS:
        check_origin(request, adapters.settings)
    session = live_session(adapters, sid)
    if session is None:
        raise HTTPException(401, "session expired or revoked")
    try:
        user = adapters.identity.get_user(session.username)
    except NotFound:
        raise HTTPException(401, "session expired or revoked") from None
    if user.disabled:
        raise HTTPException(401, "account disabled")
    return user


UserDep = Annotated[User, Depends(current_user)]


def admin_user(user: UserDep) -> User:
    if not user.is_admin:
        raise HTTPException(403, "only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(admin_user)]
