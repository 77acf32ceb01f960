"""Bodies of `/api/storage*`: what the local signed upload stored."""

from __future__ import annotations

from pydantic import BaseModel


class StoredOut(BaseModel):
    """What the local signed upload stored."""

    key: str
    size: int
    content_type: str
