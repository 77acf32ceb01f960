"""The session cookie on the wire: set and cleared here, its id signed and
checked by `services.sessions`."""

from __future__ import annotations

from fastapi import Request, Response

from app.deps import COOKIE_NAME

_PLAIN_HTTP_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def cookie_secure(request: Request) -> bool:
    """Secure except for plain http to this machine (local development)."""
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _PLAIN_HTTP_HOSTS)


def set_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=cookie_secure(request))
