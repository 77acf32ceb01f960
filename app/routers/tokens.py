"""Personal access tokens: make, list and revoke your own (rules in `services.personal_tokens`).
Only a login session reaches these: a token cannot make or list tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.deps import RootDep, UserDep
from app.schemas.common import ERRORS
from app.schemas.tokens import NewTokenOut, TokenIn, TokenOut
from services import personal_tokens

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

TokenId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]


@router.post("", response_model=NewTokenOut, status_code=201, responses=ERRORS(400, 401, 403, 409, 422))
def create_token(body: TokenIn, root: RootDep, user: UserDep) -> NewTokenOut:
    """A new token acting as you, narrowed by its `scopes`; its secret (`token`) is in this answer only."""
    token, secret = personal_tokens.create(root.personal_tokens, user, body.name, body.scopes, body.expires_days)
    return NewTokenOut.model_validate({**TokenOut.of(token).model_dump(), "token": secret})


@router.get("", response_model=list[TokenOut], responses=ERRORS(401, 403))
def list_tokens(root: RootDep, user: UserDep) -> list[TokenOut]:
    """Your tokens, newest first, without their secrets."""
    return [TokenOut.of(t) for t in personal_tokens.list_for(root.personal_tokens, user)]


@router.delete("/{token_id}", status_code=204, responses=ERRORS(401, 403, 404))
def revoke_token(token_id: TokenId, root: RootDep, user: UserDep) -> Response:
    """Revoke it: the next request that carries it is refused."""
    personal_tokens.revoke(root.personal_tokens, user, token_id)
    return Response(status_code=204)
