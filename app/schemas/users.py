"""Bodies of `/api/users*`: the family's members, as an admin manages them."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from app.schemas.common import In, NewPassword, Out
from core import usernames
from core.records import User


class UserOut(Out):
    username: str
    is_admin: bool
    disabled: bool
    created_at: datetime

    _record: ClassVar[type] = User


class UserCreate(In):
    username: str = Field(min_length=1, max_length=usernames.MAX_LENGTH, pattern=usernames.PATTERN)
    password: NewPassword
    is_admin: bool = False


class UserPatch(In):
    password: NewPassword | None = None
    is_admin: bool | None = None
    disabled: bool | None = None
