"""The error bodies the OpenAPI document declares, beyond validation.

Every error answer but 422 is `{"detail": "<reason>"}` (`ErrorOut`; domain
errors may add fields, `app.http.problems`). The 422 body and its schema are
`app.http.problems`' (`detail` in words plus `errors`, no input echoed).

`document_errors()` makes the document say so: every 4xx/5xx answer a route
declares without a body (Starlette's own 404/405 included) gets the
`ErrorOut` body, and every operation that takes a request body declares 400
(a body that cannot be parsed at all, such as bytes that are not UTF-8 JSON)
and 413 (the body cap of `app.http.limits`, or an upload's own cap). Routers declare
their other error answers with `app.schemas.common.ERRORS(...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.schemas.common import ErrorOut

ERROR_REF = "#/components/schemas/ErrorOut"


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a generated OpenAPI document in place (see the module docstring)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorOut"] = ErrorOut.model_json_schema()
    error_content = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The request body could not be parsed"})
                responses.setdefault("413", {"description": "Request body too large"})
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and status != "422" and "content" not in answer:
                    answer["content"] = error_content
    return schema


def install_error_bodies(app: FastAPI) -> None:
    """Call after `app.http.problems.install_domain_errors`: this wraps its document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
