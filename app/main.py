"""The FastAPI application factory.

`create_app()` wires routers and error handlers only: no adapter is built, no
network is touched and neither boto3 nor sqlalchemy is imported until a
request needs them (see `adapters.get_adapters`).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api_docs import install_api_docs
from app.error_bodies import install_error_bodies
from app.errors import install_error_handling
from app.http_limits import install_http_limits
from app.routers import audio, auth, health, storage, stream, tts, uploads, users
from app.security_headers import install_security_headers
from core.errors import AlreadyExists, BackendUnavailable, InvalidRange, NotFound, VersionConflict
from core.settings import VERSION

# Adapter errors that escape a router become the JSON error a client expects.
_STATUS: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "not found"),
    AlreadyExists: (409, "already exists"),
    VersionConflict: (409, "changed by someone else meanwhile; reload and try again"),
    InvalidRange: (416, "range not satisfiable"),
    BackendUnavailable: (503, "a backend service is unavailable"),
}


def _adapter_error(request: Request, exc: Exception) -> JSONResponse:
    status, reason = next(v for t, v in _STATUS.items() if isinstance(exc, t))
    return JSONResponse(status_code=status, content={"detail": f"{reason}: {exc}" if str(exc) else reason})


def create_app() -> FastAPI:
    # /api/docs comes from app.api_docs (no CDN); ReDoc is off.
    app = FastAPI(
        title="yoto-smart-stream", version=VERSION, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json"
    )
    for exc_type in _STATUS:
        app.add_exception_handler(exc_type, _adapter_error)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    # Fixed paths under /api/audio before the /{item_id} routes.
    app.include_router(uploads.router)
    app.include_router(tts.router)
    app.include_router(audio.router)
    app.include_router(stream.router)
    app.include_router(storage.router)
    install_api_docs(app)
    install_error_bodies(app)
    install_http_limits(app)
    install_error_handling(app)
    install_security_headers(app)  # outermost: also on the request-context 500
    return app


app = create_app()
