"""CSRF defence for cookie-authenticated state changes: the request's
`Origin` (or, when a browser leaves it out, the origin of `Referer`) must be
one we serve or trust. SameSite=Lax alone does not cover same-site sibling
hosts or older browsers, and login itself is protected too (login CSRF).
A bearer-token request is not checked (`bearer_token`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from core.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def request_origin(request: Request) -> str | None:
    origin = request.headers.get("origin")
    if origin is not None:
        # "null" (sandboxed frames, some redirects) never matches anything.
        return None if origin.strip() == "null" else origin.strip().rstrip("/").lower()
    referer = request.headers.get("referer")
    return _origin_of(referer) if referer else None


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, else None. A request that
    carries one needs no Origin check: no browser adds that header by itself."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def check_origin(request: Request, settings: Settings) -> None:
    """403 with the reason unless Origin/Referer names an allowed origin."""
    has_header = "origin" in request.headers or "referer" in request.headers
    if not has_header:
        raise HTTPException(403, "CSRF check failed: the request has neither an Origin nor a Referer header")
    origin = request_origin(request)
    allowed = {o.lower() for o in settings.origins}
    if origin is None or origin not in allowed:
        raise HTTPException(403, f"CSRF check failed: origin {origin or 'null'} is not allowed")
