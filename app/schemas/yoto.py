"""Bodies of `/api/yoto*`: the account link (browser and device logins)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class YotoStatusOut(BaseModel):
    linked: bool
    access_expires_at: datetime | None = None
    linked_at: datetime | None = None
    login_pending: bool = False
    device_login_pending: bool = False


class DeviceLoginOut(BaseModel):
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    interval: float
    expires_in: int


class DevicePollOut(BaseModel):
    status: Literal["pending", "linked", "expired"]
    interval: float | None = Field(default=None, description="seconds to wait before polling again")
    detail: str | None = None
