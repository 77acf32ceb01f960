"""FastAPI dependencies shared by the routers: the composition root of the
process's adapter set (`RootDep`), the logged-in user (cookie → signed session
id → live session → enabled user, plus the CSRF check for state-changing
methods; or a personal access token, its scopes checked) and the admin gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import get_route_path

from adapters import get_adapters
from app.http.csrf import UNSAFE_METHODS, bearer_token, check_origin
from core.records import User
from services import sessions
from services.signing import Keys
from wiring import Root, root_for

COOKIE_NAME = "yss_session"


def current_root() -> Root:
    """The root of the process-wide adapter set (looked up on this module: tests swap `get_adapters`)."""
    return root_for(get_adapters())


async def root() -> Root:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, and
    this one only returns the process-wide root (made once, cheaply)."""
    return current_root()


RootDep = Annotated[Root, Depends(root)]


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


# A personal access token (POST /api/tokens) instead of the cookie, for scripts (/mcp checks its own).
bearer = HTTPBearer(
    scheme_name="token",
    description="a personal access token (POST /api/tokens); its scopes narrow what it may change; no CSRF check",
    auto_error=False,
)


def current_user(
    request: Request,
    root: RootDep,
    _: Annotated[str | None, Security(session_cookie)],
    __: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> User:
    token = bearer_token(request)
    if token is not None:  # the cookie is then ignored; the token's scopes are checked against the request
        from services import personal_tokens  # only a bearer request pays for it

        caller = personal_tokens.authenticate(root.personal_tokens, token)
        personal_tokens.check_request(caller, request.method, get_route_path(request.scope))
        return caller.user
    sid = session_id_from(request, root.keys)
    if sid is not None and request.method in UNSAFE_METHODS:
        check_origin(request, root.settings)
    return sessions.user_of(root.records.sessions, root.adapters.identity, root.members, sid)


UserDep = Annotated[User, Depends(current_user)]


def admin_user(user: UserDep) -> User:
    if not user.is_admin:
        raise HTTPException(403, "only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(admin_user)]
