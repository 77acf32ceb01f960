"""Which URLs we may fetch for a family member (podcast feeds and enclosures).

A feed URL is user input, and the server fetching it sits next to things a
family member must not reach through it: the cloud metadata service at
169.254.169.254, the router's admin page, the app itself. So before any
connection the host is resolved and every address it resolves to is checked:

- only `http` and `https`, on any port, without user info in the URL;
- link-local, multicast, unspecified and reserved addresses (and IPv4 ones
  hidden in IPv6 forms) are always refused;
- loopback, private and other non-global addresses are refused unless
  `ALLOW_PRIVATE_FEEDS=true` (tests, a podcast server on the home LAN).

The fetcher then connects to one of the checked addresses itself, naming the
host only in the Host header and TLS SNI, so a DNS answer that changes between
check and connection (rebinding) cannot slip past. Redirects are checked the
same way at every hop. A refusal is `Invalid` (422) with the reason; for a
host *name* the reason is one sentence whatever the cause (no such name, an
address we refuse, nothing answering there), so refusals cannot map the
internal network. The cause goes to the server log.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import Invalid

log = logging.getLogger("yss.fetch")

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
UNFETCHABLE = "this address cannot be fetched: nothing there answers over HTTP, or it is not one this service may fetch"


class AddressRefused(Invalid):
    """The host's address may not be fetched, or gave no HTTP answer (the reason a member sees)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver); [] when it resolves to none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.warning("the host %r does not resolve: %s", host, exc)
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _unwrap(ip: IP) -> IP:
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                return inner
    return ip


def refusal(address: str, *, allow_private: bool) -> str | None:
    """Why `address` must not be fetched from, or None when it may."""
    ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    always = ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip in _THIS_NETWORK
    if always or (ip.is_reserved and not ip.is_loopback):  # ::1 sits in IPv6's reserved ::/8
        return f"{ip} is a link-local, multicast or reserved address, never fetched"
    if not ip.is_global and not allow_private:
        return f"{ip} is a loopback or private address (set ALLOW_PRIVATE_FEEDS=true to allow one)"
    return None


def _check_name(host: str) -> None:
    """`Invalid` for a host name no resolver could take (an empty or overlong
    label, a broken `xn--` label), before anything is asked of DNS."""
    try:
        host.encode("idna").decode("idna")
    except UnicodeError:
        raise Invalid(f"not a usable URL: {host!r} is not a valid host name") from None


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed, with the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def _split(url: str) -> tuple[str, str, int, IP | None]:
    """(scheme, host, port, the address when the host is one), or `Invalid` for the URL's form."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"not a usable URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("only http and https URLs can be fetched")
    host = parts.hostname
    if not host:
        raise Invalid("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Invalid("a URL with a user name or password is not fetched")
    try:
        literal: IP | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
        _check_name(host)
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), literal


def _refuse_literal(host: str, address: IP, allow_private: bool) -> None:
    why = refusal(str(address), allow_private=allow_private)
    if why is not None:  # the member wrote this address: the reason tells them nothing new
        raise AddressRefused(f"refused to fetch {host}: {why}")


def precheck_url(url: str, *, allow_private: bool) -> None:
    """What `check_url` refuses without asking DNS: the URL's form and an address
    written in it. For a request that takes a URL and fetches it later: a
    name's addresses are then judged only when it is fetched, with the same
    answer whether the name is unknown, refused or silent."""
    _scheme, host, _port, literal = _split(url)
    if literal is not None:
        _refuse_literal(host, literal, allow_private)


def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> CheckedUrl:
    """`Invalid` unless `url` is http(s) and every address of its host may be fetched from."""
    scheme, host, port, literal = _split(url)
    if literal is not None:
        _refuse_literal(host, literal, allow_private)
        return CheckedUrl(url=url.strip(), scheme=scheme, host=host, port=port, address=str(literal))
    addresses = resolver(host, port)
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            log.warning("refused to fetch %s: %s", host, why)
            raise AddressRefused(UNFETCHABLE)
    if not addresses:
        raise AddressRefused(UNFETCHABLE)
    return CheckedUrl(url=url.strip(), scheme=scheme, host=host, port=port, address=addresses[0])
