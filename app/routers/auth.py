"""Login, logout and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.deps import RootDep, UserDep, session_id_from
from app.http.client_address import client_address
from app.http.csrf import check_origin
from app.schemas.auth import LoginIn, MeOut, PasswordChangeIn
from app.schemas.common import ERRORS
from app.sessions import clear_cookie, set_cookie
from services import sessions, users

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=MeOut, responses=ERRORS(401, 403, 429))
def login(body: LoginIn, request: Request, response: Response, root: RootDep) -> MeOut:
    settings = root.settings
    check_origin(request, settings)
    replacing = session_id_from(request, root.keys)
    user, cookie = sessions.sign_in(
        root.sign_in, body.username, body.password, client_address(request, settings), replacing=replacing
    )
    set_cookie(response, request, cookie, settings.session_max_age_s)
    return MeOut.of(user)


@router.post("/logout", status_code=204, responses=ERRORS(403))
def logout(request: Request, response: Response, root: RootDep) -> Response:
    """Idempotent: revokes the session when there is one, always clears the cookie."""
    check_origin(request, root.settings)
    sessions.end(root.records.sessions, session_id_from(request, root.keys))
    response.status_code = 204
    clear_cookie(response, request)
    return response


@router.post("/password", status_code=204, responses=ERRORS(401, 403, 422))
def change_password(
    body: PasswordChangeIn, request: Request, response: Response, root: RootDep, user: UserDep
) -> Response:
    """Change your own password: every session you have ends, and this
    device gets a fresh one."""
    settings = root.settings
    records = root.records
    users.change_own_password(root.family, user, current_password=body.current_password, new_password=body.new_password)
    _, cookie = sessions.start(
        records.sessions, root.keys.cookie, user.username, max_age_s=settings.session_max_age_s, member_id=user.owner_id
    )
    response.status_code = 204
    set_cookie(response, request, cookie, settings.session_max_age_s)
    return response


@router.get("/me", response_model=MeOut, responses=ERRORS(401))
def me(user: UserDep) -> MeOut:
    return MeOut.of(user)
