"""One error body shape, and an OpenAPI document that says so.

Every error answer is `{"detail": "<reason>"}` (`Error`), except request
validation (422), which is `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`
(`HTTPValidationError`). The 422 handler here replaces FastAPI's default, which
echoes each offending `input` (a whole oversized body, passwords included)
and pydantic's `ctx`; only where the error is, what is wrong and its type
go back. Validators must therefore not quote the value in their message.

`document_errors()` makes the OpenAPI document match: `ValidationError` lists
exactly those three fields, every 4xx/5xx answer a route declares without a
body gets the `Error` body, and every operation that takes a request body
declares 413 (the body cap in `app.http_limits`, or an upload's own cap).
Routers declare their other error answers with `error_responses(...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

MSG_MAX = 200

ERROR_REF = "#/components/schemas/Error"
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
    },
    "required": ["loc", "msg", "type"],
    "additionalProperties": False,
}


class Error(BaseModel):
    """The body of every error answer but 422."""

    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers these error statuses with `Error`."""
    return {status: {"model": Error} for status in statuses}


def public_error(error: dict[str, Any]) -> dict[str, Any]:
    loc = [part if isinstance(part, int | str) else str(part) for part in error.get("loc", ())]
    return {"loc": loc, "msg": str(error.get("msg", ""))[:MSG_MAX], "type": str(error.get("type", ""))}


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": [public_error(e) for e in errors]})


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a generated OpenAPI document in place (see the module docstring)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = Error.model_json_schema()
    if "ValidationError" in schemas:
        schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
        schemas["HTTPValidationError"]["required"] = ["detail"]
    error_content = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "Request body too large"})
            for status, answer in responses.items():
                if status[:1] in "45" and status != "422" and "content" not in answer:
                    answer["content"] = error_content
    return schema


def install_error_bodies(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
