"""The address check in front of every podcast fetch (`adapters.web.url_safety`)."""

from __future__ import annotations

import time

import pytest

from adapters.web.url_safety import UNFETCHABLE, AddressRefused, check_url, precheck_url, refusal, resolve
from core.errors import Invalid


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} must not be resolved")


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::", "0.1.2.3", "240.0.0.1",
     "255.255.255.255", "::ffff:169.254.169.254", "2002:a9fe:a9fe::1"],
)  # fmt: skip
def test_always_refused_even_when_private_is_allowed(address: str) -> None:
    assert refusal(address, allow_private=True) is not None
    assert refusal(address, allow_private=False) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.20", "172.16.0.9", "100.64.0.1", "fd00::5"]
)
def test_private_refused_unless_allowed(address: str) -> None:
    assert "ALLOW_PRIVATE_FEEDS" in (refusal(address, allow_private=False) or "")
    assert refusal(address, allow_private=True) is None


def test_public_addresses_pass() -> None:
    assert refusal("93.184.215.14", allow_private=False) is None
    assert refusal("2606:4700::1111", allow_private=False) is None


def test_metadata_url_refused_fast_without_resolving() -> None:
    started = time.perf_counter()
    with pytest.raises(Invalid, match="link-local"):
        check_url("http://169.254.169.254/latest/meta-data/", allow_private=True, resolver=no_dns)
    assert time.perf_counter() - started < 0.05


def test_a_name_is_judged_by_every_address_it_resolves_to(caplog: pytest.LogCaptureFixture) -> None:
    def sneaky(host: str, port: int) -> list[str]:
        assert (host, port) == ("feeds.example", 443)
        return ["93.184.215.14", "169.254.169.254"]

    with pytest.raises(AddressRefused) as refused:
        check_url("https://feeds.example/kids.xml", allow_private=False, resolver=sneaky)
    assert str(refused.value) == UNFETCHABLE  # the member is not told what the name resolved to...
    assert "169.254.169.254" in caplog.text  # ...the server log is
    ok = check_url("https://feeds.example/kids.xml", allow_private=False, resolver=lambda h, p: ["93.184.215.14"])
    assert (ok.host, ok.port, ok.address) == ("feeds.example", 443, "93.184.215.14")


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_name_unknown_internal_or_refused_gets_one_answer(allow_private: bool) -> None:
    """No answer lets a member tell an internal name from one that does not exist."""
    answers = set()
    for addresses in ([], ["10.1.2.3"], ["127.0.0.1", "93.184.215.14"], ["169.254.169.254"], ["fe80::1"]):
        try:
            check_url("http://intranet.lan/feed", allow_private=allow_private, resolver=lambda h, p, a=addresses: a)
        except AddressRefused as exc:
            answers.add((type(exc), str(exc)))
        else:
            answers.add((None, "fetched"))
    refused = {(AddressRefused, UNFETCHABLE)}
    assert answers == (refused | {(None, "fetched")} if allow_private else refused)


def test_the_system_resolver_failing_is_no_answer_but_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve("a..b", 80) == []  # refused by the IDNA codec before any lookup leaves the machine
    assert "does not resolve" in caplog.text


@pytest.mark.parametrize("host", ["xn--", "xn--zz.example", "a..b", "x" * 64 + ".example"])
def test_a_broken_host_name_is_refused_without_dns(host: str) -> None:
    with pytest.raises(Invalid, match="not a valid host name") as refused:
        check_url(f"http://{host}/feed", allow_private=True, resolver=no_dns)
    assert not isinstance(refused.value, AddressRefused)  # a fault of the URL's form, said as such


def test_precheck_judges_what_needs_no_dns() -> None:
    precheck_url("https://feeds.example/kids.xml", allow_private=False)  # a name: judged when fetched
    precheck_url("http://127.0.0.1:8123/feed.xml", allow_private=True)
    for url, allow in [("http://169.254.169.254/x", True), ("http://10.0.0.1/x", False), ("ftp://x.example/", True)]:
        with pytest.raises(Invalid):
            precheck_url(url, allow_private=allow)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/feed", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)", "http://", "http://[::1",
     "https://user:pw@feeds.example/x", "http://example.org:99999/"],
)  # fmt: skip
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(Invalid):
        check_url(url, allow_private=True, resolver=lambda h, p: ["93.184.215.14"])


def test_loopback_allowed_for_tests() -> None:
    got = check_url("http://127.0.0.1:8123/feed.xml", allow_private=True, resolver=no_dns)
    assert (got.address, got.port, got.scheme) == ("127.0.0.1", 8123, "http")
