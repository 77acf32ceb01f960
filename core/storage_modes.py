"""Where a card's audio lives: `stream` (our signed URL, fetched when it plays) or
`yoto` (uploaded to Yoto's storage, downloaded by the player, plays offline).

The default follows PUBLIC_URL: a player can stream only from an address it can
reach, so an install without one makes `yoto` cards (docs/cards.md, "Storage").
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from core.errors import Invalid

STREAM, YOTO = "stream", "yoto"
MODES = (STREAM, YOTO)
_PRIVATE_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localhost", ".invalid")


def is_public_https(url: str) -> bool:
    """True when a player on the internet could reach `url`: https, and a host that is
    neither a loopback, private or link-local address nor a local-only name."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith(_PRIVATE_SUFFIXES):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host
    return address.is_global


def default_mode(public_url: str, allow_http: bool = False) -> str:
    """`stream` when players can fetch PUBLIC_URL (public https, or an http address the
    operator vouches for with ALLOW_HTTP_PUBLIC_URL), else `yoto`."""
    reachable = is_public_https(public_url) or (allow_http and urlsplit(public_url).scheme == "http")
    return STREAM if reachable else YOTO


def checked(mode: str | None, public_url: str, allow_http: bool = False) -> str:
    """`mode`, or the install's default when None; `Invalid` for any other word."""
    if mode is None or mode == "":
        return default_mode(public_url, allow_http)
    if mode not in MODES:
        raise Invalid(f"storage is 'stream' or 'yoto', not {mode!r}")
    return mode
