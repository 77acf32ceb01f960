"""The client address the login throttle counts by, decided per deployment
in this one place (setting `CLIENT_ADDRESS_FROM`, see docs/security.md).

- `peer` (default): the socket peer. `make run` starts uvicorn with
  `--no-proxy-headers`, so a client cannot rename itself with X-Forwarded-For.
- `x-forwarded-for`: behind a reverse proxy you run, which appends the address
  it saw; the rightmost entry is the one the proxy wrote, anything left of it
  came from the client.
- `cloudfront`: CloudFront's `CloudFront-Viewer-Address` ("ip:port"), trusted
  only when the request also carries `x-origin-verify` equal to
  `ORIGIN_SECRET`; without it anyone could send the header straight to the
  execute-api endpoint.
- `apigw`: API Gateway's `requestContext.http.sourceIp` from the Lambda event
  (Mangum keeps the event as `scope["aws.event"]`).

A source that is missing or unreadable falls back to the peer: the caller
then shares a bucket with everyone behind the same hop, which throttles more,
never less. Addresses come back in canonical form (`ipaddress`), so one
client cannot spread over several buckets by spelling its address differently.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from core.settings import Settings

ORIGIN_HEADER = "x-origin-verify"
UNKNOWN = "unknown"


def origin_verified(headers: Mapping[str, str], settings: Settings) -> bool:
    """True when ORIGIN_SECRET is set and the request carries it (constant-time compare)."""
    secret = settings.origin_secret
    given = headers.get(ORIGIN_HEADER)
    if not secret or given is None:
        return False
    return hmac.compare_digest(given.encode(), secret.encode())


def client_address(request: HTTPConnection, settings: Settings) -> str:
    source = settings.client_address_from
    found: str | None = None
    if source == "x-forwarded-for":
        found = _rightmost_forwarded(request.headers)
    elif source == "cloudfront" and origin_verified(request.headers, settings):
        found = _cloudfront_viewer(request.headers.get("cloudfront-viewer-address"))
    elif source == "apigw":
        found = _apigw_source(request.scope)
    return found or _peer(request.scope)


def _canonical(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def _peer(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    if client and client[0]:
        return _canonical(str(client[0])) or str(client[0])
    return UNKNOWN


def _rightmost_forwarded(headers: Headers) -> str | None:
    entries = [e for value in headers.getlist("x-forwarded-for") for e in value.split(",") if e.strip()]
    return _canonical(entries[-1]) if entries else None


def _cloudfront_viewer(value: str | None) -> str | None:
    """`198.51.100.10:46532`, or IPv6 unbracketed with the port after the last colon."""
    if not value or ":" not in value:
        return None
    host, _, port = value.strip().rpartition(":")
    return _canonical(host) if port.isdigit() else None


def _apigw_source(scope: Mapping[str, Any]) -> str | None:
    event = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    source = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    return _canonical(source) if isinstance(source, str) else None
