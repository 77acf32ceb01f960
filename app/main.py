"""The FastAPI application factory.

`create_app()` wires routers and error handlers only: no adapter is built, no
network is touched and neither boto3 nor sqlalchemy is imported until a
request needs them (see `adapters.get_adapters`).
"""

from __future__ import annotations

from fastapi import FastAPI

from adapters.settings import VERSION
from app.routers import health


def create_app() -> FastAPI:
    app = FastAPI(title="yoto-smart-stream", version=VERSION, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.include_router(health.router)
    return app


app = create_app()
