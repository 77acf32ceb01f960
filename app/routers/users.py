"""Family users, admin only (the rules live in `services.users`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.deps import AdminDep, RootDep
from app.schemas.common import ERRORS
from app.schemas.users import UserCreate, UserOut, UserPatch
from core import usernames
from services import users

router = APIRouter(prefix="/api/users", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=usernames.MAX_LENGTH, pattern=usernames.PATTERN)]


@router.get("", response_model=list[UserOut], responses=ERRORS(401, 403))
def list_users(root: RootDep, _: AdminDep) -> list[UserOut]:
    return [UserOut.of(u) for u in users.list_users(root.adapters.identity)]


@router.post("", response_model=UserOut, status_code=201, responses=ERRORS(401, 403, 409, 422))
def create_user(body: UserCreate, root: RootDep, _: AdminDep) -> UserOut:
    return UserOut.of(users.create_user(root.family, body.username, body.password, is_admin=body.is_admin))


@router.get("/{username}", response_model=UserOut, responses=ERRORS(401, 403, 404))
def get_user(username: Username, root: RootDep, _: AdminDep) -> UserOut:
    return UserOut.of(users.get_user(root.adapters.identity, username))


@router.patch("/{username}", response_model=UserOut, responses=ERRORS(401, 403, 404, 409, 422))
def update_user(username: Username, body: UserPatch, root: RootDep, _: AdminDep) -> UserOut:
    """A new password (set by an admin or the user) signs the user out everywhere;
    disabling also forgets the member's Yoto link (link it again once enabled)."""
    user = users.update_user(
        root.family, username, password=body.password, is_admin=body.is_admin, disabled=body.disabled
    )
    return UserOut.of(user)


@router.delete("/{username}", status_code=204, responses=ERRORS(401, 403, 404, 409))
def delete_user(
    username: Username,
    root: RootDep,
    admin: AdminDep,
    items: Annotated[
        Literal["reassign", "delete"],
        Query(
            description="what happens to the member's audio items, playlists, routines and podcasts:"
            " passed to you (default) or deleted"
        ),
    ] = "reassign",
) -> Response:
    """Ends the member's sessions and forgets their Yoto link; their card records go (the
    cards stay on their Yoto account); the rest is passed to you or deleted (`items`).
    A member made later with the same name owns none of it."""
    users.delete_user(root.family, username, by=admin, items=items)
    return Response(status_code=204)
