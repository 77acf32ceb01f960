"""Family users, admin only. The last enabled admin cannot be demoted,
disabled or deleted, so the family can never lock itself out of its own
service. Disabling or deleting a user revokes their sessions at once."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from adapters import Adapters
from app.deps import AdaptersDep, AdminDep
from app.schemas import UserCreate, UserOut, UserPatch
from core.errors import AlreadyExists, NotFound
from core.password_policy import password_problem

router = APIRouter(prefix="/api/users", tags=["users"])


def _get(adapters: Adapters, username: str) -> UserOut:
    try:
        return UserOut.of(adapters.identity.get_user(username))
    except NotFound:
        raise HTTPException(404, f"no user {username}") from None


def _other_enabled_admins(adapters: Adapters, username: str) -> int:
    return sum(1 for u in adapters.identity.list_users() if u.is_admin and not u.disabled and u.username != username)


def _check_policy(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise HTTPException(422, problem)


@router.get("", response_model=list[UserOut])
def list_users(adapters: AdaptersDep, _: AdminDep) -> list[UserOut]:
    return [UserOut.of(u) for u in sorted(adapters.identity.list_users(), key=lambda u: u.username)]


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, adapters: AdaptersDep, _: AdminDep) -> UserOut:
    _check_policy(body.password)
    try:
        user = adapters.identity.create_user(body.username, body.password, is_admin=body.is_admin)
    except AlreadyExists:
        raise HTTPException(409, f"user {body.username} already exists") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return UserOut.of(user)


@router.get("/{username}", response_model=UserOut)
def get_user(username: str, adapters: AdaptersDep, _: AdminDep) -> UserOut:
    return _get(adapters, username)


@router.patch("/{username}", response_model=UserOut)
def update_user(username: str, body: UserPatch, adapters: AdaptersDep, _: AdminDep) -> UserOut:
    current = _get(adapters, username)
    if body.password is not None:
        _check_policy(body.password)
    loses_admin = body.is_admin is False or body.disabled is True
    if current.is_admin and not current.disabled and loses_admin and _other_enabled_admins(adapters, username) == 0:
        raise HTTPException(409, f"{username} is the last admin: make another admin first")
    try:
        user = adapters.identity.update_user(
            username, password=body.password, is_admin=body.is_admin, disabled=body.disabled
        )
    except NotFound:
        raise HTTPException(404, f"no user {username}") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if body.disabled:
        adapters.records.sessions.delete_for_user(username)
    return UserOut.of(user)


@router.delete("/{username}", status_code=204)
def delete_user(username: str, adapters: AdaptersDep, _: AdminDep) -> Response:
    current = _get(adapters, username)
    if current.is_admin and not current.disabled and _other_enabled_admins(adapters, username) == 0:
        raise HTTPException(409, f"{username} is the last admin: make another admin first")
    adapters.records.sessions.delete_for_user(username)
    try:
        adapters.identity.delete_user(username)
    except NotFound:
        raise HTTPException(404, f"no user {username}") from None
    return Response(status_code=204)
