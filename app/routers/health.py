"""Liveness: answers without touching any backend, so it is cheap on a cold start."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdaptersDep
from core.settings import VERSION

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health(adapters: AdaptersDep) -> dict[str, str]:
    return {"status": "ok", "version": VERSION, "backend": adapters.backend}
