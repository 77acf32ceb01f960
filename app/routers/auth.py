"""Login, logout and who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from app import throttle
from app.csrf import check_origin
from app.deps import AdaptersDep, UserDep
from app.schemas import LoginIn, MeOut
from app.sessions import clear_cookie, live_session, session_id_from, set_cookie, start_session

router = APIRouter(prefix="/api/auth", tags=["auth"])

BAD_LOGIN = "wrong username or password"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=MeOut)
def login(body: LoginIn, request: Request, response: Response, adapters: AdaptersDep) -> MeOut:
    check_origin(request, adapters.settings)
    address = client_address(request)
    throttle.check_allowed(adapters, body.username, address)
    user = adapters.identity.authenticate(body.username, body.password)
    if user is None:
        throttle.record_failure(adapters, body.username, address)
        raise HTTPException(401, BAD_LOGIN)
    throttle.record_success(adapters, body.username)
    old = session_id_from(request, adapters)
    if old is not None:
        adapters.records.sessions.delete(old)
    _, cookie = start_session(adapters, user.username)
    set_cookie(response, request, cookie, adapters.settings.session_max_age_s)
    return MeOut(username=user.username, is_admin=user.is_admin)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, adapters: AdaptersDep) -> Response:
    """Idempotent: revokes the session when there is one, always clears the cookie."""
    check_origin(request, adapters.settings)
    sid = session_id_from(request, adapters)
    if sid is not None and live_session(adapters, sid) is not None:
        adapters.records.sessions.delete(sid)
    response.status_code = 204
    clear_cookie(response, request)
    return response


@router.get("/me", response_model=MeOut)
def me(user: UserDep) -> MeOut:
    return MeOut(username=user.username, is_admin=user.is_admin)
