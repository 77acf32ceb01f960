"""The FastAPI application factory.

`create_app()` wires route groups and error handlers only: no adapter is
built, no network is touched and neither boto3 nor sqlalchemy is imported
until a request needs them (see `adapters.get_adapters`). The routers
themselves are imported per group when a request first needs one
(`app.routes`): a new area of the API is one more line in `ROUTE_GROUPS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import deps
from app.api_docs import install_api_docs
from app.http.error_bodies import install_error_bodies
from app.http.errors import install_error_handling
from app.http.limits import install_http_limits
from app.http.problems import install_domain_errors
from app.http.security_headers import install_security_headers
from app.routes import RouteGroup, install_concrete_paths_first, load_all
from app.routes import install as install_route_groups
from core.settings import VERSION
from wiring import Root

log = logging.getLogger("yss.app")

# In matching order. Every route of a group lives under one of its prefixes
# (tests/api/test_route_groups.py checks it).
ROUTE_GROUPS = (
    # First: the route a player waits on is matched before every other.
    RouteGroup("stream", ("/s/",), ("app.routers.stream",)),
    RouteGroup("health", (), ("app.routers.health",), exact=("/api/health",)),
    RouteGroup("auth", ("/api/auth",), ("app.routers.auth",)),
    RouteGroup("users", ("/api/users",), ("app.routers.users",)),
    RouteGroup("tokens", ("/api/tokens",), ("app.routers.tokens",)),
    RouteGroup("mcp", (), ("app.routers.mcp",), exact=("/mcp",)),  # the SDK is imported on the first /mcp request
    # Fixed paths under /api/audio before the /{item_id} routes.
    RouteGroup("audio", ("/api/audio", "/api/tts"), ("app.routers.uploads", "app.routers.tts", "app.routers.audio")),
    RouteGroup("storage", ("/api/storage",), ("app.routers.storage",)),
    RouteGroup("yoto", ("/api/yoto",), ("app.routers.yoto",)),
    RouteGroup("cards", ("/api/cards", "/api/icons"), ("app.routers.cards", "app.routers.icons")),
    RouteGroup("playlists", ("/api/playlists",), ("app.routers.playlists",)),
    RouteGroup("stories", ("/api/stories",), ("app.routers.stories",)),
    RouteGroup("imports", ("/api/imports",), ("app.routers.imports",)),
    RouteGroup(
        "players",
        ("/api/players", "/api/health/mqtt"),
        ("app.routers.player_settings", "app.routers.player_rules", "app.routers.players"),
    ),
    RouteGroup("announcements", ("/api/announcements",), ("app.routers.announcements",)),
    RouteGroup("backup", (), ("app.routers.export",), exact=("/api/export", "/api/import-backup")),
    RouteGroup(
        "scheduled", ("/api/podcasts", "/api/runs", "/api/routines"), ("app.routers.podcasts", "app.routers.routines")
    ),
    # The web UI's pages and files (its paths never shadow the API's).
    RouteGroup("ui", ("/assets", "/api/ui"), ("app.routers.ui",), exact=("/", "/index.html", "/manifest.webmanifest")),
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """A long-running server (`make run`) sweeps what abandoned uploads left
    when it starts. Lambda runs with lifespan off: S3's lifecycle rule does it there."""
    from services import uploads

    load_all(app)  # a long-running server imports every route group now, not on a request
    root = deps.current_root()
    settings = root.settings
    try:
        swept = await asyncio.to_thread(
            uploads.sweep_stale, root.adapters.storage, ttl_s=settings.upload_url_ttl_s, force=True
        )
        if swept:
            log.info("removed %d staged upload(s) nobody completed", swept)
    except Exception:
        log.exception("sweeping abandoned uploads failed; the server starts anyway")
    listener = await asyncio.to_thread(_start_listener, root)
    scheduler = None
    if settings.scheduler_enabled and not settings.use_aws:
        from app.scheduled import local_scheduler

        scheduler = local_scheduler(root)
        scheduler.start()  # podcasts and routines run by themselves (docs/scheduling.md)
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()
        # Jobs still waiting or running end as failed runs that say the server stopped.
        await asyncio.to_thread(root.stop_workers)
        if listener:
            await asyncio.to_thread(root.in_process.stop)


def _start_listener(root: Root) -> bool:
    """`make run` runs the MQTT listener in-process unless MQTT_ENABLED=false
    (commands then use its open connection); it needs YOTO_CLIENT_ID to refresh tokens."""
    settings = root.settings
    if not settings.mqtt_enabled:
        return False
    if not settings.yoto_client_id:
        log.info("MQTT listener not started: YOTO_CLIENT_ID is not set")
        return False
    try:
        root.in_process.start(root.listener_runner(mode="in-process"))
    except Exception:
        log.exception("the in-process MQTT listener could not start; the server starts anyway")
        return False
    return True


def create_app() -> FastAPI:
    # /api/docs comes from app.api_docs (no CDN); ReDoc is off.
    app = FastAPI(
        title="yoto-smart-stream",
        version=VERSION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    install_domain_errors(app)
    install_route_groups(app, ROUTE_GROUPS)
    install_api_docs(app)
    install_concrete_paths_first(app)  # after every route is added
    install_error_bodies(app)
    install_http_limits(app)
    install_error_handling(app)
    install_security_headers(app)  # outermost: also on the request-context 500
    return app


app = create_app()
