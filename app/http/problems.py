"""Domain errors become HTTP answers here, in one table, and nowhere else.

Services raise `core.errors` classes with a reason a person reads; the answer
is `{"detail": reason, **extras}` with the error's headers (Retry-After and the
like). The most specific class wins, so `RelinkNeeded` (a `Conflict`) and
`InvalidCursor` (an `Invalid`) get their own statuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from core import errors as e
from core import password_policy, usernames

# (status, reason when the error carries no message of its own)
STATUS: dict[type[e.DomainError], tuple[int, str]] = {
    e.InvalidCursor: (400, "invalid cursor"),
    e.Unauthenticated: (401, "not logged in"),
    e.Forbidden: (403, "not allowed"),
    e.NotFound: (404, "not found"),
    e.NotSupportedHere: (404, "Not Found"),
    e.RelinkNeeded: (409, "relink your Yoto account"),
    e.AlreadyExists: (409, "already exists"),
    e.VersionConflict: (409, "changed by someone else meanwhile; reload and try again"),
    e.Conflict: (409, "conflict"),
    e.TooLarge: (413, "too large"),
    e.Unsupported: (415, "unsupported content"),
    e.InvalidRange: (416, "range not satisfiable"),
    e.UpstreamRejected: (422, "refused by the Yoto cloud"),
    e.Invalid: (422, "invalid request"),
    e.RateLimited: (429, "too many requests; try again later"),
    e.ConfigError: (500, "the service is misconfigured"),
    e.UpstreamTimeout: (504, "the Yoto cloud did not answer in time"),
    e.UpstreamError: (502, "the Yoto cloud failed"),
    e.BackendUnavailable: (503, "a backend service is unavailable"),
}
# Answers that must say when to come back even if the error did not.
DEFAULT_RETRY_AFTER = {503: "5"}


def _speaker(exc: e.DomainError) -> e.DomainError:
    """The error whose kind answers: `exc`, or for a kind with no status of its own (a track
    that could not go to Yoto) what caused it (a relink, Yoto's refusal or outage)."""
    if not any(cls in STATUS for cls in type(exc).__mro__) and isinstance(exc.__cause__, e.DomainError):
        return _speaker(exc.__cause__)
    return exc


def status_of(exc: e.DomainError) -> tuple[int, str]:
    for cls in type(_speaker(exc)).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500, "internal server error"


def answer(exc: e.DomainError) -> JSONResponse:
    status, reason = status_of(exc)
    speaker = _speaker(exc)
    body: dict[str, Any] = {"detail": str(exc) or reason, **speaker.extra, **exc.extra}
    headers = {**speaker.headers, **exc.headers}
    if status in DEFAULT_RETRY_AFTER and not any(k.lower() == "retry-after" for k in headers):
        headers["Retry-After"] = DEFAULT_RETRY_AFTER[status]
    return JSONResponse(status_code=status, content=body, headers=headers)


def _handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    return answer(exc)


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route serves at this path. Starlette answers a 405
    from the first route whose path matches, naming only that route's methods,
    while GET, PATCH and DELETE of one path are separate routes here."""
    allowed = []
    for method in _METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in app.router.routes):
            allowed.append(method)
    return allowed


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request.app, request.scope))
        exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allow})
    return await http_exception_handler(request, exc)


def install_domain_errors(app: Any) -> None:
    app.add_exception_handler(e.DomainError, _handler)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    install_validation_errors(app)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# --------------------------------------------------------------------------- validation


def _field(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(names) or "the request body"


def _blank(err: dict[str, Any]) -> bool:
    ctx = err.get("ctx") or {}
    return (err["type"] == "string_too_short" and ctx.get("min_length") == 1) or (
        err["type"] == "string_pattern_mismatch" and ctx.get("pattern") == r"\S"
    )


# Declared patterns said in words (a regex is no reason a person reads).
PATTERN_RULES = {
    password_policy.PATTERN: "must not start or end with whitespace",
    usernames.PATTERN: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
}


def _sentence(err: dict[str, Any]) -> str:
    field = _field(tuple(err.get("loc", ())))
    if _blank(err):
        return f"{field} is empty"
    pattern = (err.get("ctx") or {}).get("pattern")
    if err["type"] == "string_pattern_mismatch" and pattern in PATTERN_RULES:
        return f"{field} {PATTERN_RULES[pattern]}"
    if err["type"] == "missing":
        return f"{field} is required"
    if err["type"] == "json_invalid":
        return "the request body is not valid JSON"
    return f"{field}: {err['msg']}"


def validation_answer(exc: RequestValidationError) -> JSONResponse:
    """422 in the one error shape: `detail` says it in words, `errors` lists
    where. The input is never echoed (a password must not come back in a body
    or a log), nor pydantic's context values."""
    errs = exc.errors()
    body = {
        "detail": "; ".join(_sentence(err) for err in errs) or "invalid request",
        "errors": [{"loc": list(err.get("loc", ())), "msg": err["msg"], "type": err["type"]} for err in errs],
    }
    return JSONResponse(status_code=422, content=body)


def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_answer(exc)


# What the OpenAPI document says every 422 looks like (FastAPI's default
# component names, so every route's generated 422 points here).
VALIDATION_SCHEMAS: dict[str, Any] = {
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "required": ["detail", "errors"],
        "properties": {
            "detail": {"type": "string", "title": "Detail"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        },
    },
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
}


def install_validation_errors(app: Any) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(VALIDATION_SCHEMAS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
