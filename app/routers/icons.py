"""The icon picker: Yoto's public 16×16 icons by title (scorer in `services.icons`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import RootDep, UserDep
from app.schemas.cards import IconOut, IconsOut
from app.schemas.common import ERRORS
from services import cards

router = APIRouter(tags=["cards"])


@router.get("/api/icons", response_model=IconsOut, responses=ERRORS(401, 409, 429, 502, 504))
def list_icons(
    root: RootDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=200, description="words of a title; empty: every icon by title")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IconsOut:
    """Icons matching `q`, best first; 409 while no Yoto account is linked
    (Yoto serves the list only with an access token). Cached for hours."""
    return IconsOut(items=[IconOut.of(i) for i in cards.search_icons(root.cards, user, q, limit=limit)])
