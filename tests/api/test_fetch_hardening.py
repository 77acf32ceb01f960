"""Fetching user-supplied URLs (issue 18; docs/security.md, "Fetching feeds and
episodes"): compression bombs, slow drips, broken redirects, and refusals that
could map the network. A hostile host on 127.0.0.1 (tests/api/hostile_host.py)
answers the API of a server started as `make run` starts it, with
ALLOW_PRIVATE_FEEDS; `SafeFetcher` is also driven on its own where a figure
must be exact."""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from adapters.web.fetch import SafeFetcher
from adapters.web.url_safety import UNFETCHABLE, AddressRefused, check_url
from core.errors import DomainError, TooLarge, UpstreamError, UpstreamTimeout
from tests.api.family_server import FamilyServer, family_server
from tests.api.hostile_host import (
    LAUGHS,
    MB,
    HostileHost,
    drip,
    fixed,
    gzip_layer,
    hostile_host,
    many_items,
    odd_ports,
    raw,
    rss_feed,
)
from tests.api.hostile_host import zeros_gzipped as bomb
from tests.waiting import eventually

FEED_TIMEOUT_S = 3.0
FEED = {"Content-Type": "application/rss+xml"}
AUDIO = {"Content-Type": "audio/mpeg"}


@pytest.fixture(scope="module")
def host() -> Iterator[HostileHost]:
    with hostile_host() as h:
        yield h


PRIVATE_FEEDS = {"ALLOW_PRIVATE_FEEDS": "true", "ALLOW_HTTP_PUBLIC_URL": "true", "PODCAST_FEED_TIMEOUT_S": "3"}


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FamilyServer]:
    with family_server(tmp_path_factory.mktemp("fetch"), PRIVATE_FEEDS) as f:
        yield f


@pytest.fixture
def fresh_family(tmp_path: Path) -> Iterator[FamilyServer]:
    """A server of its own: its peak RSS is a high-water mark no earlier test has raised."""
    with family_server(tmp_path, PRIVATE_FEEDS) as f:
        yield f


@pytest.fixture(scope="module")
def strict_family(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FamilyServer]:
    with family_server(tmp_path_factory.mktemp("fetch-strict")) as f:
        yield f


def fetcher() -> SafeFetcher:
    return SafeFetcher(lambda url: check_url(url, allow_private=True))


class Outcome:
    """How `POST /api/podcasts` ended: answered in the request (`HTTP 422`), or by its
    first run when the answer was 202 (`run failed`); `took_s` is the fetch's share."""

    def __init__(self, client: httpx.Client, feed_url: str) -> None:
        started = time.perf_counter()
        r = client.post("/api/podcasts", json={"feed_url": feed_url, "episodes": 1})
        self.took_s = time.perf_counter() - started
        body = r.json()
        assert r.status_code != 500, r.text
        if r.status_code != 202:
            self.how, self.detail = f"HTTP {r.status_code}", str(body.get("detail", ""))
            return
        run_id = body["last_run"]["id"]

        def finished() -> dict | None:
            run = client.get(f"/api/runs/{run_id}").json()
            return run if run["status"] not in ("queued", "running") else None

        run = eventually(finished, timeout=120)
        self.how, self.detail = f"run {run['status']}", run["detail"] or ""
        spans = [datetime.fromisoformat(run[k]) for k in ("started_at", "finished_at")]
        self.took_s = (spans[1] - spans[0]).total_seconds()

    def __repr__(self) -> str:
        return f"{self.how}: {self.detail} ({self.took_s:.2f} s)"


def _with_memory(family: FamilyServer, host: HostileHost, path: str) -> tuple[Outcome, int]:
    """The outcome of creating a podcast from `path`, and how far the server's peak
    RSS rose meanwhile (KiB), after one small gzipped fetch and parse loaded what they touch."""
    client = family.login()
    host.routes["/warm.xml"] = fixed(200, gzip_layer(iter([b"<html>no feed</html>"])), {"Content-Encoding": "gzip"})
    Outcome(client, host.url + "/warm.xml")
    idle = family.server.peak_rss_kib()
    got = Outcome(client, host.url + path)
    return got, family.server.peak_rss_kib() - idle


# --------------------------------------------------------------------------- 1. compression bombs


def test_a_two_layer_gzip_bomb_leaves_the_servers_memory_flat(fresh_family: FamilyServer, host: HostileHost) -> None:
    body = bomb(1000, 2)  # 1,000 MB of zeros
    assert len(body) < 2048
    host.routes["/bomb.xml"] = fixed(200, body, {**FEED, "Content-Encoding": "gzip, gzip"})
    got, grown = _with_memory(fresh_family, host, "/bomb.xml")
    assert "/bomb.xml" in host.asked
    assert grown < 10 * 1024, f"peak RSS grew by {grown / 1024:.1f} MiB for {got}"
    assert "compressed 2 times over" in got.detail, got


def test_one_gzip_layer_is_capped_on_its_decoded_bytes(fresh_family: FamilyServer, host: HostileHost) -> None:
    body = bomb(1000, 1)  # about 1 MB that inflates to 1,000 MB, against a 5 MB feed cap
    host.routes["/bomb1.xml"] = fixed(200, body, {**FEED, "Content-Encoding": "gzip"})
    got, grown = _with_memory(fresh_family, host, "/bomb1.xml")
    assert grown < 10 * 1024, f"peak RSS grew by {grown / 1024:.1f} MiB for {got}"
    assert "over the 5120 KB cap" in got.detail, got


def test_an_enclosure_bomb_is_refused_the_same_way(fresh_family: FamilyServer, host: HostileHost) -> None:
    host.routes["/with-bomb.xml"] = fixed(200, rss_feed("Bomb", host.url + "/bomb.mp3"), FEED)
    host.routes["/bomb.mp3"] = fixed(200, bomb(1000, 2), {**AUDIO, "Content-Encoding": "gzip, gzip"})
    got, grown = _with_memory(fresh_family, host, "/with-bomb.xml")
    assert "/bomb.mp3" in host.asked
    assert grown < 10 * 1024, f"peak RSS grew by {grown / 1024:.1f} MiB for {got}"
    assert "compressed 2 times over" in got.detail, got


def test_one_layer_never_exists_inflated_past_the_cap(host: HostileHost) -> None:
    """Python's own allocations while one 1,000 MB layer is refused against a 1 MB cap."""
    import tracemalloc

    host.routes["/deep.gz"] = fixed(200, bomb(1000, 1), {"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetcher().get(host.url + "/deep.gz", max_bytes=MB, timeout_s=10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB, f"{peak / MB:.1f} MB allocated at the peak"


def test_the_fetcher_asks_for_no_compression_and_reads_one_layer_itself(host: HostileHost, tmp_path: Path) -> None:
    document = rss_feed("Zipped", "http://x.example/a.mp3") * 50
    deflated = zlib.compress(document)
    raw_deflate = deflated[2:-4]  # what some servers send as "deflate"
    host.routes["/gz.xml"] = fixed(200, gzip_layer(iter([document])), {**FEED, "Content-Encoding": "gzip"})
    host.routes["/zlib.xml"] = fixed(200, deflated, {**FEED, "Content-Encoding": "deflate"})
    host.routes["/raw-deflate.xml"] = fixed(200, raw_deflate, {**FEED, "Content-Encoding": "Deflate"})
    host.routes["/plain.xml"] = fixed(200, document, {**FEED, "Content-Encoding": "identity"})
    for path in ("/gz.xml", "/zlib.xml", "/raw-deflate.xml", "/plain.xml"):
        got = fetcher().get(host.url + path, max_bytes=MB, timeout_s=5)
        assert got.body == document and got.size == len(document), path
    assert host.last_headers["/gz.xml"]["accept-encoding"] == "identity"
    to = tmp_path / "episode"
    assert fetcher().get(host.url + "/gz.xml", max_bytes=MB, timeout_s=5, to=to).size == len(document)
    assert to.read_bytes() == document


def test_an_answer_without_a_body_may_name_its_coding(host: HostileHost) -> None:
    """A 304 (a refresh's conditional GET) often repeats the Content-Encoding of the 200."""
    host.routes["/same.xml"] = raw(b'HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\nETag: "v1"\r\n\r\n')
    got = fetcher().get(host.url + "/same.xml", headers={"If-None-Match": '"v1"'}, max_bytes=MB, timeout_s=5)
    assert (got.status, got.body) == (304, b"")
    host.routes["/empty.xml"] = fixed(200, b"", {"Content-Encoding": "gzip"})
    assert fetcher().get(host.url + "/empty.xml", max_bytes=MB, timeout_s=5).body == b""


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [("gzip, gzip", "compressed 2 times over"), ("gzip,deflate", "compressed 2 times over"),
     ("br", "only gzip and deflate"), ("zstd", "only gzip and deflate"), ("compress", "only gzip and deflate")],
)  # fmt: skip
def test_stacked_and_unknown_encodings_are_refused_with_a_reason(host: HostileHost, encoding: str, reason: str) -> None:
    host.routes["/enc.xml"] = fixed(200, b"whatever", {**FEED, "Content-Encoding": encoding})
    with pytest.raises(UpstreamError, match=reason):
        fetcher().get(host.url + "/enc.xml", max_bytes=MB, timeout_s=5)


def test_broken_or_cut_compression_is_refused_and_leaves_no_file(host: HostileHost, tmp_path: Path) -> None:
    whole = gzip_layer(iter([b"x" * 100_000]))
    host.routes["/garbage.gz"] = fixed(200, b"\x1f\x8b" + b"\x00" * 50, {"Content-Encoding": "gzip"})
    host.routes["/cut.gz"] = fixed(200, whole[: len(whole) // 2], {"Content-Encoding": "gzip"})
    for path, reason in (("/garbage.gz", "not valid gzip"), ("/cut.gz", "ends before")):
        to = tmp_path / "partial"
        with pytest.raises(UpstreamError, match=reason):
            fetcher().get(host.url + path, max_bytes=MB, timeout_s=5, to=to)
        assert not to.exists()
    host.routes["/big.gz"] = fixed(200, bomb(20, 1), {"Content-Encoding": "gzip"})
    with pytest.raises(TooLarge):
        fetcher().get(host.url + "/big.gz", max_bytes=MB, timeout_s=5, to=tmp_path / "big")
    assert not (tmp_path / "big").exists()


# --------------------------------------------------------------------------- 2. the deadline on every read

HEAD_200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 15\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "rest", "error"),
    [(HEAD_200, b"<rss>drip</rss>", UpstreamTimeout),  # the body, a byte at a time
     (b"HTTP/1.1 200 OK\r\n", b"Content-Type: text/xml\r\n\r\n", AddressRefused)],  # the headers, a byte at a time
    ids=["body", "headers"],
)  # fmt: skip
def test_a_drip_is_ended_at_the_deadline(host: HostileHost, head: bytes, rest: bytes, error: type) -> None:
    host.routes["/drip"] = drip(head, rest, every_s=2.0)
    started = time.perf_counter()
    with pytest.raises(error):
        fetcher().get(host.url + "/drip", max_bytes=MB, timeout_s=FEED_TIMEOUT_S)
    took = time.perf_counter() - started
    assert FEED_TIMEOUT_S - 1 <= took <= FEED_TIMEOUT_S + 1, took


def test_a_drip_feed_ends_at_its_deadline_through_the_api(family: FamilyServer, host: HostileHost) -> None:
    host.routes["/drip.xml"] = drip(HEAD_200, b"<rss>drip</rss>", every_s=2.0)
    got = Outcome(family.login(), host.url + "/drip.xml")
    assert "took longer than 3 s" in got.detail, got
    assert FEED_TIMEOUT_S - 1 <= got.took_s <= FEED_TIMEOUT_S + 1, got


# --------------------------------------------------------------------------- 8. what a feed may cost to parse


def _cpu_s(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_huge_feed_costs_the_server_little_cpu(family: FamilyServer, host: HostileHost) -> None:
    host.routes["/huge.xml"] = fixed(200, many_items(30_000, host.url + "/gone/{i}.mp3"), FEED)
    client = family.login()
    before = _cpu_s(family.server.pid)
    got = Outcome(client, host.url + "/huge.xml")
    spent = _cpu_s(family.server.pid) - before
    assert "/gone/30000.mp3" in host.asked, got  # read, and the newest episode fetched (it is gone: 404)
    assert spent < 2.0, f"{spent:.2f} s of CPU for {got}"  # 4.9 MB, 30,000 items: 14 s when parsed twice in full


def test_an_entity_bomb_feed_is_refused_with_the_reason(family: FamilyServer, host: HostileHost) -> None:
    host.routes["/laughs.xml"] = fixed(200, LAUGHS.encode(), FEED)
    got = Outcome(family.login(), host.url + "/laughs.xml")
    assert "declares its own entities" in got.detail, got


# --------------------------------------------------------------------------- 6. a malformed redirect


@pytest.mark.parametrize(
    "location",
    [b"http://xn--/feed.xml", b"http://[::1", b"http://127.0.0.1:99999/", b"http://127.0.0.1:abc/",
     b"/" + b"a" * 70_000, b"gopher://127.0.0.1/x"],
    ids=["bad-idna", "bad-ipv6", "port-range", "port-text", "too-long", "scheme"],
)  # fmt: skip
def test_a_malformed_redirect_is_a_502_with_a_reason(family: FamilyServer, host: HostileHost, location: bytes) -> None:
    host.routes["/moved.xml"] = raw(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(UpstreamError, match="redirected to something that is not a usable URL"):
        fetcher().get(host.url + "/moved.xml", max_bytes=MB, timeout_s=5)
    got = Outcome(family.login(), host.url + "/moved.xml")
    assert got.how in ("HTTP 502", "run failed"), got
    assert "redirected to something that is not a usable URL" in got.detail, got


# --------------------------------------------------------------------------- 9. refusals that map nothing


def test_no_http_answer_is_one_answer_whatever_the_port_does(family: FamilyServer, host: HostileHost) -> None:
    """Closed, silent, not HTTP, hanging up, TLS to a plain port: a member cannot
    tell them apart, so the API cannot be used to scan ports."""
    client = family.login()
    with odd_ports() as ports:
        urls = {name: f"http://127.0.0.1:{port}/feed.xml" for name, port in ports.items()}
        urls["tls-to-plain"] = host.url.replace("http://", "https://") + "/feed.xml"
        outcomes = {name: Outcome(client, url) for name, url in urls.items()}
    answers = {(o.how, o.detail) for o in outcomes.values()}
    assert len(answers) == 1, outcomes
    how, detail = answers.pop()
    assert UNFETCHABLE in detail and how in ("HTTP 422", "run failed"), outcomes
    for name, port in ports.items():
        assert str(port) not in detail, name


def test_a_refused_name_says_nothing_of_where_it_points(strict_family: FamilyServer) -> None:
    """Without ALLOW_PRIVATE_FEEDS: `localhost` (from /etc/hosts, no DNS query)
    is refused without naming its address; an address written in the URL is
    refused with the reason, which tells the member nothing new."""
    client = strict_family.login()
    named = Outcome(client, "http://localhost:9/feed.xml")
    assert UNFETCHABLE in named.detail and "127.0.0.1" not in named.detail and "loopback" not in named.detail
    literal = Outcome(client, "http://127.0.0.1:9/feed.xml")
    assert literal.how == "HTTP 422" and "ALLOW_PRIVATE_FEEDS" in literal.detail


def test_nothing_answering_is_refused_in_the_fetcher_alike() -> None:
    with odd_ports() as ports:
        details = set()
        for port in ports.values():
            with pytest.raises(DomainError) as refused:
                fetcher().get(f"http://127.0.0.1:{port}/x", max_bytes=MB, timeout_s=2)
            details.add((type(refused.value), str(refused.value)))
    assert details == {(AddressRefused, UNFETCHABLE)}
