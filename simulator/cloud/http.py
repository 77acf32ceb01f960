"""Request and response values the routes work with, and body parsing.

Kept apart from the socket server so every route is a plain function of a
`Request` that returns a `Response`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from html import escape
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode


class HttpError(Exception):
    """Raised by a route to answer with a REST error body (`message` carries the reason)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        if not self.body:
            raise HttpError(400, "request body must be JSON")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, f"request body is not valid JSON: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        value = self.json()
        if not isinstance(value, dict):
            raise HttpError(400, "request body must be a JSON object")
        return value

    def form_or_json(self) -> dict[str, Any]:
        """Token endpoints accept both encodings, like Auth0 does."""
        if self.content_type == "application/json":
            return self.json_object()
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def first_file(self, names: tuple[str, ...]) -> tuple[bytes, str] | None:
        """(bytes, content type) of the first multipart part named in `names`."""
        if self.content_type != "multipart/form-data":
            return None
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") in names:
                payload = part.get_payload(decode=True) or b""
                return payload, part.get_content_type()
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection without answering (a fault)


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The REST error body. Yoto's real shape is unverified; `message` is the part to read."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return json_response(status, {"statusCode": status, "error": reason, "message": message}, headers)


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description}, {"Cache-Control": "no-store"})


def html_response(status: int, title: str, text: str) -> Response:
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1>{text}</body></html>"
    )
    return Response(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Response:
    return Response(302, b"", {"Location": location})


def with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params)}"
