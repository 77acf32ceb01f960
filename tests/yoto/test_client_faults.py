"""Retries, give-up and error mapping, with faults injected by the fake Yoto cloud."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from adapters.yoto.client import YotoClient
from core.errors import RateLimited, UpstreamError, UpstreamTimeout
from core.yoto.cloud import AccessTokenRejected, YotoCard, YotoChapter, YotoTrack
from simulator.cloud import RunningCloud
from tests.servers import free_port
from tests.yoto.conftest import make_client

DEVICES = "/device-v2/devices/mine"


def _hits(cloud: RunningCloud, path: str = DEVICES) -> list[int]:
    return [r.status for r in cloud.requests("GET", path)]


def test_429_is_retried_after_retry_after(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.rate_limit_next(count=2, retry_after=0.3, path_prefix=DEVICES)
    started = time.monotonic()
    assert client.list_devices(token)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.6, f"Retry-After 0.3 s twice, yet done in {elapsed:.2f} s"
    assert _hits(yoto_cloud) == [429, 429, 200]


def test_5xx_is_retried_with_backoff(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.server_error_next(count=2, status=503, path_prefix=DEVICES)
    assert client.list_devices(token)
    assert _hits(yoto_cloud) == [503, 503, 200]


def test_persistent_5xx_gives_up_after_bounded_tries(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.server_error_next(count=50, status=502, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as failed:
        client.list_devices(token)
    assert time.monotonic() - started < 2
    assert not isinstance(failed.value, UpstreamTimeout)
    assert "list the players" in str(failed.value) and "502" in str(failed.value) and "4 tries" in str(failed.value)
    assert _hits(yoto_cloud) == [502] * client.max_tries


def test_persistent_429_is_rate_limited_with_retry_after(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, max_wait_s=1.0)
    yoto_cloud.rate_limit_next(count=50, retry_after=0.4, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        client.list_devices(token)
    waited = time.monotonic() - started
    assert 0.8 <= waited < 1.5, "two waits of 0.4 s fit the 1 s budget, a third does not"
    assert limited.value.headers == {"Retry-After": "1"}
    assert _hits(yoto_cloud) == [429, 429, 429]
    client.close()


def test_a_retry_after_beyond_the_budget_gives_up_at_once(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, max_wait_s=2.0)
    yoto_cloud.rate_limit_next(count=1, retry_after=30, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        client.list_devices(token)
    assert time.monotonic() - started < 0.5
    assert limited.value.headers == {"Retry-After": "30"} and "30 s" in str(limited.value)
    client.close()


def test_timeout_maps_to_upstream_timeout_without_retrying(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, timeout_s=0.3)
    yoto_cloud.slow_next(count=5, delay_s=1.0, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        client.list_devices(token)
    assert time.monotonic() - started < 0.9
    client.close()


def test_401_maps_to_access_token_rejected(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.unauthorized_next(path_prefix=DEVICES)
    with pytest.raises(AccessTokenRejected):
        client.list_devices(token)
    assert client.list_devices(token), "only the injected answer was a 401"
    with pytest.raises(AccessTokenRejected):
        client.list_devices("not-a-token")


def test_dropped_connection_and_nothing_listening_are_upstream_errors(
    client: YotoClient, yoto_cloud: RunningCloud, token: str
) -> None:
    yoto_cloud.disconnect_next(path_prefix=DEVICES)
    with pytest.raises(UpstreamError, match="connection to Yoto failed"):
        client.list_devices(token)
    dead = f"http://127.0.0.1:{free_port()}"
    nowhere = YotoClient(api_url=dead, auth_url=dead, client_id="x", backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(UpstreamError, match="after 4 tries: could not connect"):
        nowhere.list_devices(token)
    nowhere.close()


def test_retry_after_as_http_date_and_jitter_bounds(yoto_cloud: RunningCloud) -> None:
    import httpx

    from adapters.yoto.retrying import _retry_after

    future = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert (_retry_after(future) or 0) > 3600
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    low = make_client(yoto_cloud, backoff_s=1.0, max_backoff_s=4.0, jitter=lambda: 0.0)
    high = make_client(yoto_cloud, backoff_s=1.0, max_backoff_s=4.0, jitter=lambda: 1.0)
    assert [low._delay(n, None) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert [high._delay(n, None) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    low.close()
    high.close()


# --------------------------------------------------------------------------- lost answers: never a second card


def _stream_card(title: str = "Lost and found", n: int = 2) -> YotoCard:
    chapters = [
        YotoChapter(title=f"C{i}", tracks=[YotoTrack(title=f"T{i}", track_url=f"https://family.example/s/{i}.mp3")])
        for i in range(1, n + 1)
    ]
    return YotoCard(title=title, chapters=chapters)


def _posts(cloud: RunningCloud) -> list[int]:
    return [r.status for r in cloud.requests("POST", "/content")]


@pytest.mark.parametrize("kind", ["server_error", "disconnect"])
def test_a_create_stored_before_its_answer_was_lost_is_adopted(
    client: YotoClient, yoto_cloud: RunningCloud, token: str, kind: str
) -> None:
    yoto_cloud.fail_next(kind, path_prefix="/content", method="POST", after=True)
    made = client.save_card(token, _stream_card())
    assert _posts(yoto_cloud) == [500 if kind == "server_error" else 0], "one POST: the lost create is not resent"
    assert list(yoto_cloud.cards()) == [made.card_id], "one card, and it is the one Yoto made"
    assert made.title == "Lost and found" and len(made.chapters) == 2
    assert [r.path for r in yoto_cloud.requests("GET")] == ["/content/mine", f"/content/{made.card_id}"]


def test_a_create_that_timed_out_after_it_was_stored_is_adopted(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, timeout_s=0.3)
    yoto_cloud.slow_next(delay_s=1.0, path_prefix="/content", method="POST", after=True)
    made = client.save_card(token, _stream_card())
    assert list(yoto_cloud.cards()) == [made.card_id]
    client.close()


def test_a_create_that_was_not_stored_is_sent_once_more(
    client: YotoClient, yoto_cloud: RunningCloud, token: str
) -> None:
    yoto_cloud.server_error_next(status=503, path_prefix="/content", method="POST")
    made = client.save_card(token, _stream_card())
    assert _posts(yoto_cloud) == [503, 200] and list(yoto_cloud.cards()) == [made.card_id]
    yoto_cloud.clear_requests()
    yoto_cloud.server_error_next(count=5, status=502, path_prefix="/content", method="POST")
    with pytest.raises(UpstreamError, match="create the card: 502"):
        client.save_card(token, _stream_card("Never made"))
    assert _posts(yoto_cloud) == [502, 502], "one resend at most"
    assert list(yoto_cloud.cards()) == [made.card_id]


def test_a_create_that_timed_out_is_never_sent_again(yoto_cloud: RunningCloud, token: str) -> None:
    """Yoto may still be making the card: the listing cannot say it will not appear."""
    client = make_client(yoto_cloud, timeout_s=0.3)
    yoto_cloud.slow_next(delay_s=1.0, path_prefix="/content", method="POST")
    with pytest.raises(UpstreamTimeout):
        client.save_card(token, _stream_card())
    deadline = time.monotonic() + 10
    while not yoto_cloud.requests("POST", "/content") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(yoto_cloud.requests("POST", "/content")) == 1
    client.close()


def test_only_the_card_we_sent_is_adopted(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    same_title = client.save_card(token, _stream_card(n=1))  # other track URLs
    old_twin = client.save_card(token, _stream_card())  # the same card, made long ago
    yoto_cloud.state.cards._cards[old_twin.card_id or ""].card["createdAt"] = "2020-01-01T00:00:00.000Z"
    yoto_cloud.clear_requests()
    yoto_cloud.server_error_next(path_prefix="/content", method="POST")  # nothing stored
    made = client.save_card(token, _stream_card())
    assert made.card_id not in (same_title.card_id, old_twin.card_id)
    assert _posts(yoto_cloud) == [500, 200]
    assert len(yoto_cloud.cards()) == 3
    # Only the recent card with the same title was read to compare its tracks.
    assert [r.path for r in yoto_cloud.requests("GET")] == ["/content/mine", f"/content/{same_title.card_id}"]


def test_when_the_listing_fails_too_nothing_is_resent(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.server_error_next(path_prefix="/content", method="POST")
    yoto_cloud.server_error_next(count=20, path_prefix="/content/mine", method="GET")
    with pytest.raises(UpstreamError, match="create the card"):
        client.save_card(token, _stream_card())
    assert _posts(yoto_cloud) == [500]


def test_an_update_is_still_retried(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    made = client.save_card(token, _stream_card())
    yoto_cloud.clear_requests()
    yoto_cloud.server_error_next(count=2, path_prefix="/content", method="POST")
    client.save_card(token, replace(made, title="Renamed"))
    assert _posts(yoto_cloud) == [500, 500, 200] and len(yoto_cloud.cards()) == 1
    assert yoto_cloud.card(made.card_id or "")["title"] == "Renamed"  # type: ignore[index]
