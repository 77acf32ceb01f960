"""API Gateway HTTP API (payload format 2.0) events, shaped like AWS's documented example.

AWS's example event (Lambda developer guide, "Working with HTTP APIs",
payload format version 2.0) is kept whole in `EXAMPLE_EVENT`; `http_event()`
copies it and fills in the request, so every event the tests send has every
field the real service sends (cookies split out of the headers, header names
lower-cased, repeated query keys comma-joined in `queryStringParameters`,
`rawQueryString` as the client sent it, base64 bodies flagged).

This directory is named `lambda`, a Python keyword, so other modules load
this one with `importlib.import_module("tests.lambda.apigw")`.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

EXAMPLE_EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/my/path",
    "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
    "cookies": ["cookie1", "cookie2"],
    "headers": {"header1": "value1", "header2": "value1,value2"},
    "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "authentication": None,
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "Hello from Lambda",
    "pathParameters": {"parameter1": "value1"},
    "isBase64Encoded": False,
    "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"},
}

DOMAIN = "abc123.execute-api.eu-west-2.amazonaws.com"


def http_event(
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes | str | None = None,
    base64_body: bool | None = None,
    route_key: str = "$default",
    request_id: str | None = None,
    domain: str = DOMAIN,
) -> dict[str, Any]:
    """An event for `method path?query` as API Gateway would deliver it.

    `body` bytes are base64-encoded (as API Gateway does for binary media);
    a str body is sent as text unless `base64_body=True`.
    """
    event = copy.deepcopy(EXAMPLE_EVENT)
    pairs = query or []
    raw_query = urlencode(pairs, quote_via=quote)
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    hdrs = {"host": domain, "user-agent": "yoto-test/1.0", "x-forwarded-proto": "https", "x-forwarded-port": "443"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    if body is not None:
        hdrs.setdefault("content-length", str(len(body.encode() if isinstance(body, str) else body)))
    rid = request_id or base64.b32encode(uuid.uuid4().bytes)[:16].decode().rstrip("=")
    event.update(
        routeKey=route_key,
        rawPath=path,
        rawQueryString=raw_query,
        headers=hdrs,
        isBase64Encoded=False,
        body=None,
        pathParameters={"proxy": path.lstrip("/")} if route_key != "$default" else None,
        stageVariables=None,
    )
    if cookies:
        event["cookies"] = list(cookies)
    else:
        event.pop("cookies")
    if joined:
        event["queryStringParameters"] = joined
    else:
        event.pop("queryStringParameters")
    ctx = event["requestContext"]
    ctx.update(
        domainName=domain,
        domainPrefix=domain.split(".", 1)[0],
        requestId=rid,
        routeKey=route_key,
    )
    ctx["http"].update(method=method.upper(), path=path, userAgent=hdrs["user-agent"])
    if body is not None:
        if isinstance(body, bytes) or base64_body:
            raw = body if isinstance(body, bytes) else body.encode()
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body
    return event


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that code reads."""

    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name: str = "yoto-smart-stream-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:yoto-smart-stream-api"
    log_group_name: str = "/aws/lambda/yoto-smart-stream-api"
    log_stream_name: str = "2026/11/25/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def response_body(response: dict[str, Any]) -> bytes:
    """The body bytes of a handler response, decoding base64 when flagged."""
    body = response.get("body", "")
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type (boundary included)."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, data, ctype) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
