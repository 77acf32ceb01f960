"""The FastAPI application factory.

`create_app()` wires routers and error handlers only: no adapter is built, no
network is touched and neither boto3 nor sqlalchemy is imported until a
request needs them (see `adapters.get_adapters`).
"""

from __future__ import annotations

from fastapi import FastAPI

from app.errors import install_error_handling
from app.problems import install_domain_errors
from app.routers import audio, auth, health, storage, stream, tts, uploads, users
from core.settings import VERSION


def create_app() -> FastAPI:
    app = FastAPI(title="yoto-smart-stream", version=VERSION, docs_url="/api/docs", openapi_url="/api/openapi.json")
    install_domain_errors(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    # Fixed paths under /api/audio before the /{item_id} routes.
    app.include_router(uploads.router)
    app.include_router(tts.router)
    app.include_router(audio.router)
    app.include_router(stream.router)
    app.include_router(storage.router)
    install_error_handling(app)
    return app


app = create_app()
