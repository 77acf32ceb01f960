"""Bodies of the personal access token API (rules in `services.personal_tokens`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.schemas.common import NOT_BLANK, In, Out
from services.personal_tokens import MAX_EXPIRES_DAYS

Scope = Literal["read", "cards", "players"]


class TokenIn(In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK)]
    scopes: Annotated[
        list[Scope],
        Field(
            min_length=1,
            max_length=3,
            description="read: reading only; cards: also the library, cards and playlists; players: also commands",
        ),
    ]
    expires_days: Annotated[int, Field(ge=1, le=MAX_EXPIRES_DAYS)] = 90


class TokenOut(Out):
    id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime


class NewTokenOut(TokenOut):
    token: str = Field(description="the secret, shown this once: send it as `Authorization: Bearer <token>`")
