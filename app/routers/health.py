"""Liveness: answers without touching any backend, so it is cheap on a cold start."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import RootDep
from core.settings import VERSION

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health(root: RootDep) -> dict[str, str]:
    return {"status": "ok", "version": VERSION, "backend": root.settings.backend}
