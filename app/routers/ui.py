"""The web UI (`app/ui/`): its files at `/`, and two small answers it needs
before anyone is signed in.

The files are plain ES modules and CSS, no build step, laid out as the UI
bucket holds them on AWS (`index.html`, `manifest.webmanifest`, `assets/`),
so the same tree is served here and synced there.

Caching: a UI file has no version in its name, so a browser must never use a
copy it has not checked: every answer says `no-cache` and carries a strong
ETag (a hash of the content), and a repeat visit costs one 304 per file.
Icons change even less and keep for a day. Nothing is compressed here: the
whole first load is well under its budget as it is, and on AWS with
CloudFront the bucket's files are compressed by CloudFront.

`/api/ui/features` is left out of the OpenAPI document: it is the UI's own
question, and it is answered from that document.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel

from app.deps import RootDep, session_id_from
from app.schemas.auth import MeOut
from app.schemas.common import ERRORS
from core.errors import Unauthenticated
from services import sessions, users

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
ASSETS_DIR = UI_DIR / "assets"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}
REVALIDATE = "no-cache"
DAY = "public, max-age=86400"

# The API areas a page needs, by the path that shows the API is there. The
# UI asks once and says in words what this server does not have yet.
FEATURES = {
    "cards": "/api/cards",
    "icons": "/api/icons",
    "playlists": "/api/playlists",
    "players": "/api/players",
    "history": "/api/players/{player_id}/history",
    "yoto": "/api/yoto/status",
    "yoto_device_login": "/api/yoto/device-login",
    "tts_quota": "/api/tts/quota",
    "podcasts": "/api/podcasts",
    "routines": "/api/routines",
    "stories": "/api/stories",
    "player_settings": "/api/players/{player_id}/settings",
    "alarms": "/api/players/{player_id}/alarms",
    "player_rules": "/api/players/{player_id}/rules",
    "announcements": "/api/announcements",
}

router = APIRouter(tags=["ui"])


@dataclass(frozen=True)
class UiFile:
    body: bytes
    etag: str
    media_type: str
    cache_control: str


@lru_cache(maxsize=128)
def _load(path: Path, mtime_ns: int, size: int) -> UiFile:
    """One file's answer, computed once per version of the file (the cache key
    holds its mtime and size, so an edit is picked up without a restart)."""
    body = path.read_bytes()
    tag = hashlib.sha256(body).hexdigest()[:20]
    cache = DAY if path.parent.name == "icons" else REVALIDATE
    return UiFile(body, f'"{tag}"', MEDIA_TYPES[path.suffix], cache)


def _answer(request: Request, path: Path) -> Response:
    try:
        stat = path.stat()
    except OSError:
        raise HTTPException(404, "Not Found") from None
    file = _load(path, stat.st_mtime_ns, stat.st_size)
    headers = {"ETag": file.etag, "Cache-Control": file.cache_control}
    if file.etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(file.body))
        return Response(status_code=200, headers=headers, media_type=file.media_type)
    return Response(file.body, headers=headers, media_type=file.media_type)


def _asset(relative: str) -> Path:
    """A file under `assets/` of a type we serve; 404 for anything else
    (other suffixes, dot files, a way out of the directory)."""
    if any(part.startswith(".") or not part for part in relative.split("/")):
        raise HTTPException(404, "Not Found")
    path = (ASSETS_DIR / relative).resolve()
    if not path.is_relative_to(ASSETS_DIR) or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise HTTPException(404, "Not Found")
    return path


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
@router.api_route("/index.html", methods=["GET", "HEAD"], include_in_schema=False)
def index(request: Request) -> Response:
    return _answer(request, UI_DIR / "index.html")


@router.api_route("/manifest.webmanifest", methods=["GET", "HEAD"], include_in_schema=False)
def manifest(request: Request) -> Response:
    return _answer(request, UI_DIR / "manifest.webmanifest")


AssetPath = Annotated[str, PathParam(max_length=200, pattern=r"^[A-Za-z0-9._/-]+$")]


@router.api_route("/assets/{relative:path}", methods=["GET", "HEAD"], include_in_schema=False)
def asset(relative: AssetPath, request: Request) -> Response:
    return _answer(request, _asset(relative))


class FeaturesOut(BaseModel):
    features: dict[str, bool]


class FirstRunOut(BaseModel):
    admin_exists: bool


class SessionOut(BaseModel):
    user: MeOut | None


@router.get("/api/ui/features", response_model=FeaturesOut, include_in_schema=False)
def features(request: Request) -> FeaturesOut:
    """Which API areas this server has, so a page can say what is not there yet
    (read from the OpenAPI document, which FastAPI builds once and keeps)."""
    paths = {_shape(path) for path in request.app.openapi().get("paths", {})}
    return FeaturesOut(features={name: _shape(path) in paths for name, path in FEATURES.items()})


def _shape(path: str) -> str:
    """A route path with its parameter names dropped: `/a/{x}` and `/a/{y:path}` match."""
    return re.sub(r"\{[^}]*\}", "{}", path)


@router.get("/api/ui/first-run", response_model=FirstRunOut, responses=ERRORS(503))
def first_run(root: RootDep) -> FirstRunOut:
    """Whether an enabled admin exists: the sign-in page explains how to make
    the first one when not (it can only be made on the server's command line)."""
    everyone = users.list_users(root.adapters.identity)
    return FirstRunOut(admin_exists=any(u.is_admin and not u.disabled for u in everyone))


@router.get("/api/ui/session", response_model=SessionOut, responses=ERRORS(503))
def session(request: Request, root: RootDep) -> SessionOut:
    """Who is signed in, or `null`: what `/api/auth/me` says, but 200 either way,
    so opening the page signed out is not an error in the browser's console."""
    try:
        user = sessions.user_of(
            root.records.sessions, root.adapters.identity, root.members, session_id_from(request, root.keys)
        )
    except Unauthenticated:
        return SessionOut(user=None)
    return SessionOut(user=MeOut.of(user))
