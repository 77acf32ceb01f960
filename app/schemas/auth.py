"""Bodies of `/api/auth*`: login, the password change, who am I."""

from __future__ import annotations

from pydantic import Field

from app.schemas.common import In, NewPassword, Out


class LoginIn(In):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: NewPassword


class MeOut(Out):
    username: str
    is_admin: bool
