"""Podcast cards end to end: a real RSS feed on 127.0.0.1 → our library → a
streaming card on the Yoto simulator, refreshed in place; and every refusal.
Create and refresh answer 202 and run on the workers (`finished` waits)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from simulator.cloud import RunningCloud
from tests.api.conftest import Api, make_api
from tests.feeds import FeedServer, Served, rss
from tests.scheduled.conftest import finished

DAYS = ["Mon, 01 Jun 2026 07:00:00 GMT", "Tue, 02 Jun 2026 07:00:00 GMT", "Wed, 03 Jun 2026 07:00:00 GMT",
        "Thu, 04 Jun 2026 07:00:00 GMT"]  # fmt: skip


def serve_feed(server: FeedServer, tones: dict[str, bytes], n: int, *, etag: str = '"v1"') -> None:
    kinds = ["mp3", "m4a", "wav", "mp3"]
    episodes = []
    for i in range(n):
        path = f"/audio/ep{i + 1}"
        server.routes[path] = Served(200, tones[kinds[i]], {"Content-Type": "audio/mpeg"})
        episodes.append((f"guid-{i + 1}", f"Episode {i + 1}", DAYS[i], server.url + path))
    # Feeds list newest first, but do not rely on it: shuffle the document order.
    body = rss("Bedtime Tales", episodes[::2] + episodes[1::2])
    server.routes["/feed.xml"] = Served(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})


def yoto_titles(cloud: RunningCloud, yoto_card_id: str) -> list[str]:
    card = cloud.card(yoto_card_id)
    assert card is not None
    return [c["title"] for c in card["content"]["chapters"]]


def yoto_urls(cloud: RunningCloud, yoto_card_id: str) -> list[str]:
    card = cloud.card(yoto_card_id)
    assert card is not None
    return [t["trackUrl"] for c in card["content"]["chapters"] for t in c["tracks"]]


def create(api: Api, url: str, **body: Any) -> Any:
    return api.login().post("/api/podcasts", json={"feed_url": url, "episodes": 2, **body})


def made(api: Api, url: str, **body: Any) -> Any:
    """A podcast created and its first run done (ok): the podcast as it then is."""
    r = create(api, url, **body)
    assert r.status_code == 202, r.text
    client = api.login()
    run = finished(client, r.json()["last_run"]["id"])
    assert run["status"] == "ok", run
    return client.get(f"/api/podcasts/{r.json()['id']}").json()


def refreshed(client: Any, podcast_id: str) -> Any:
    """POST …/refresh (202, queued), its run waited for: the podcast with that run as `last_run`."""
    r = client.post(f"/api/podcasts/{podcast_id}/refresh")
    assert r.status_code == 202, r.text
    assert r.json()["last_run"]["status"] == "queued"
    finished(client, r.json()["last_run"]["id"])
    return client.get(f"/api/podcasts/{podcast_id}").json()


def test_feed_becomes_a_card_with_the_newest_episodes_in_order(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    serve_feed(feed_server, tones, 3)
    r = create(sched_api, feed_server.url + "/feed.xml")
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "new" and queued["yoto_card_id"] is None and queued["title"] == ""
    assert queued["last_run"]["status"] == "queued" and queued["last_run"]["trigger"] == "create"
    client = sched_api.login()
    assert finished(client, queued["last_run"]["id"])["status"] == "ok"
    body = client.get(f"/api/podcasts/{queued['id']}").json()
    assert body["title"] == "Bedtime Tales" and body["status"] == "ok" and body["last_run"]["status"] == "ok"
    assert [e["title"] for e in body["held"]] == ["Episode 3", "Episode 2"]
    assert feed_server.paths().count("/feed.xml") == 1  # read (and parsed) once for create and first run
    assert yoto_titles(yoto_cloud_env, body["yoto_card_id"]) == ["Episode 3", "Episode 2"]
    # each track streams our signed URL of a library item with source "podcast"
    urls = yoto_urls(yoto_cloud_env, body["yoto_card_id"])
    assert all(u.startswith("http://127.0.0.1:8000/s/") for u in urls)
    items = client.get("/api/audio").json()["items"]
    assert sorted(i["title"] for i in items) == ["Episode 2", "Episode 3"]
    assert {i["source"] for i in items} == {"podcast"}
    assert "/audio/ep1" not in feed_server.paths()  # outside the window: never downloaded
    # the card plays: its first URL answers MP3 bytes
    got = client.get(urls[0].removeprefix("http://127.0.0.1:8000"))
    assert got.status_code == 200 and got.headers["content-type"] == "audio/mpeg"


def test_a_new_episode_reaches_the_same_card_and_the_old_one_leaves(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    serve_feed(feed_server, tones, 2)
    first = made(sched_api, feed_server.url + "/feed.xml", order="oldest_first")
    assert yoto_titles(yoto_cloud_env, first["yoto_card_id"]) == ["Episode 1", "Episode 2"]
    client = sched_api.login()

    # unchanged feed: a conditional GET, answered 304, and no card write
    writes = len(yoto_cloud_env.requests("POST", "/content"))
    assert refreshed(client, first["id"])["last_run"]["status"] == "ok"
    assert feed_server.requests[-1][1].get("if-none-match") == '"v1"'
    assert len(yoto_cloud_env.requests("POST", "/content")) == writes

    serve_feed(feed_server, tones, 3, etag='"v2"')
    after = refreshed(client, first["id"])
    assert after["last_run"]["status"] == "ok", after
    assert after["yoto_card_id"] == first["yoto_card_id"] and after["card_id"] == first["card_id"]
    assert yoto_titles(yoto_cloud_env, first["yoto_card_id"]) == ["Episode 2", "Episode 3"]
    kept = {a for e in after["held"] for a in e["audio_ids"]}
    assert first["held"][1]["audio_ids"][0] in kept  # episode 2 was not fetched again
    titles = sorted(i["title"] for i in client.get("/api/audio").json()["items"])
    assert titles == ["Episode 2", "Episode 3"]  # episode 1 left the window and the library
    assert [p for p in feed_server.paths() if p.startswith("/audio/")].count("/audio/ep2") == 1


def test_an_episode_still_used_elsewhere_is_kept(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes]
) -> None:
    serve_feed(feed_server, tones, 2)
    pod = made(sched_api, feed_server.url + "/feed.xml", episodes=1)
    ep2 = pod["held"][0]["audio_ids"][0]
    from core.records import Playlist, new_id

    sched_api.adapters.records.playlists.add(Playlist(id=new_id(), owner="mum", name="mine", audio_ids=(ep2,)))
    serve_feed(feed_server, tones, 3, etag='"v2"')
    client = sched_api.login()
    assert refreshed(client, pod["id"])["held"][0]["title"] == "Episode 3"
    assert client.get(f"/api/audio/{ep2}").status_code == 200


def test_a_broken_enclosure_leaves_the_card_untouched(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    serve_feed(feed_server, tones, 2)
    pod = made(sched_api, feed_server.url + "/feed.xml")
    before = yoto_cloud_env.card(pod["yoto_card_id"])
    client = sched_api.login()
    items_before = client.get("/api/audio").json()["items"]
    for broken in (Served(404, b"gone"), Served(200, b"this is no audio at all" * 50)):
        serve_feed(feed_server, tones, 3, etag='"v3"')
        feed_server.routes["/audio/ep3"] = broken
        out = refreshed(client, pod["id"])
        assert out["last_run"]["status"] == "failed" and "Episode 3" in out["last_run"]["detail"]
        assert out["status"] == "failed" and out["last_error"]
        assert [e["title"] for e in out["held"]] == ["Episode 2", "Episode 1"]
        assert yoto_cloud_env.card(pod["yoto_card_id"]) == before
        assert client.get("/api/audio").json()["items"] == items_before
    runs = client.get(f"/api/runs/{out['last_run']['id']}").json()
    assert runs["status"] == "failed"


def test_link_local_feed_refused_fast_and_a_redirect_there_fails_the_first_run(
    sched_api: Api, feed_server: FeedServer
) -> None:
    client = sched_api.login()
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/feed", "http://0.0.0.0:9/feed"):
        started = time.perf_counter()
        r = client.post("/api/podcasts", json={"feed_url": url, "episodes": 3})
        took = time.perf_counter() - started
        assert r.status_code == 422, r.text
        assert "never fetched" in r.json()["detail"]
        assert took < 0.5, took
    # a redirect to the metadata address is refused at that hop, by the first run
    # (the feed is read on the workers): it fails saying so, and the podcast stays failed, cardless
    feed_server.routes["/moved"] = Served(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    r = client.post("/api/podcasts", json={"feed_url": feed_server.url + "/moved", "episodes": 3})
    assert r.status_code == 202, r.text
    run = finished(client, r.json()["last_run"]["id"])
    assert run["status"] == "failed" and "169.254.169.254" in run["detail"]
    kept = client.get(f"/api/podcasts/{r.json()['id']}").json()
    assert kept["status"] == "failed" and "169.254.169.254" in kept["last_error"] and kept["yoto_card_id"] is None
    assert [p["id"] for p in client.get("/api/podcasts").json()["items"]] == [r.json()["id"]]
    assert sched_api.adapters.records.cards.list().items == []


def test_private_feeds_need_the_setting(sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes]) -> None:
    serve_feed(feed_server, tones, 1)
    strict_settings = sched_api.settings.model_copy(
        update={"allow_private_feeds": False, "data_dir": sched_api.settings.data_dir / "strict"}
    )
    with pytest.MonkeyPatch.context() as mp:
        strict = make_api(strict_settings, mp, sched_api.settings.data_dir / "strict-tmp")
        r = strict.login().post("/api/podcasts", json={"feed_url": feed_server.url + "/feed.xml", "episodes": 1})
    assert r.status_code == 422 and "ALLOW_PRIVATE_FEEDS" in r.json()["detail"]
    assert feed_server.requests == []


def test_refusals_of_the_body(sched_api: Api) -> None:
    client = sched_api.login()
    for body in (
        {"feed_url": "ftp://x.example/feed", "episodes": 3},
        {"feed_url": "http://x.example/feed", "episodes": 0},
        {"feed_url": "http://x.example/feed", "episodes": 26},
        {"feed_url": "http://x.example/feed", "episodes": 3, "order": "random"},
        {"feed_url": "http://x.example/feed", "episodes": "3"},
        {"feed_url": "http://x.example/feed", "episodes": 3, "extra": 1},
        {"feed_url": "http://x.example/feed", "episodes": 3, "storage": "cloud"},
    ):
        r = client.post("/api/podcasts", json=body)
        assert r.status_code == 422, (body, r.text)
    assert client.get("/api/podcasts/nope").status_code == 404
    assert sched_api.client().get("/api/podcasts").status_code == 401


def test_patch_and_delete(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    serve_feed(feed_server, tones, 2)
    pod = made(sched_api, feed_server.url + "/feed.xml")
    client = sched_api.login()
    r = client.patch(f"/api/podcasts/{pod['id']}", json={"refresh_hours": 1.5, "title": "Tales"})
    assert r.status_code == 200 and r.json()["refresh_hours"] == 1.5
    job = sched_api.adapters.records.jobs.get(pod["id"])
    assert job.every_s == 5400
    kid = sched_api.login(("kid", "purple monkey dishwasher"))
    assert kid.delete(f"/api/podcasts/{pod['id']}").status_code == 403
    assert client.delete(f"/api/podcasts/{pod['id']}").status_code == 204
    assert client.get(f"/api/podcasts/{pod['id']}").status_code == 404
    assert pod["yoto_card_id"] not in yoto_cloud_env.cards()  # deleted on the Yoto side
    assert client.get("/api/audio").json()["items"] == []
    assert sched_api.adapters.records.cards.list().items == []
    assert sched_api.adapters.records.jobs.list().items == []


def test_an_edit_reaches_the_card_at_the_next_refresh_though_the_feed_is_unchanged(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    """The feed keeps its ETag (a conditional GET would answer 304): a new window,
    order or title must still be applied by the next refresh."""
    serve_feed(feed_server, tones, 3)
    pod = made(sched_api, feed_server.url + "/feed.xml")
    client = sched_api.login()
    card = pod["yoto_card_id"]
    assert yoto_titles(yoto_cloud_env, card) == ["Episode 3", "Episode 2"]

    def refresh() -> Any:
        out = refreshed(client, pod["id"])
        assert out["last_run"]["status"] == "ok", out
        return out

    refresh()  # unchanged: answered 304, nothing to do
    assert feed_server.requests[-1][1].get("if-none-match") == '"v1"'
    assert client.patch(f"/api/podcasts/{pod['id']}", json={"episodes": 1}).status_code == 200
    assert [e["title"] for e in refresh()["held"]] == ["Episode 3"]
    assert "if-none-match" not in feed_server.requests[-1][1]  # fetched in full after the edit
    assert yoto_titles(yoto_cloud_env, card) == ["Episode 3"]
    assert client.patch(f"/api/podcasts/{pod['id']}", json={"order": "oldest_first", "episodes": 2}).status_code == 200
    assert [e["title"] for e in refresh()["held"]] == ["Episode 2", "Episode 3"]
    assert client.patch(f"/api/podcasts/{pod['id']}", json={"title": "Night Tales"}).status_code == 200
    refresh()
    assert yoto_cloud_env.card(card)["title"] == "Night Tales"
    assert yoto_titles(yoto_cloud_env, card) == ["Episode 2", "Episode 3"]
    assert len([c for c in yoto_cloud_env.cards().values() if c.get("title") in ("Night Tales", "Bedtime Tales")]) == 1


def test_storage_on_a_podcast_uploads_its_episodes_and_moves_the_same_card(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes], yoto_cloud_env: RunningCloud
) -> None:
    """`storage: yoto` uploads the episodes inside the first run (the tracks name Yoto's
    transcodes); a PATCH to `stream` rewrites the same Yoto card at the next refresh."""
    yoto_cloud_env.configure(transcode_delay_s=0.3)
    serve_feed(feed_server, tones, 2)
    pod = made(sched_api, feed_server.url + "/feed.xml", storage="yoto")
    card = pod["yoto_card_id"]
    assert pod["storage"] == "yoto" and pod["status"] == "ok"
    assert yoto_titles(yoto_cloud_env, card) == ["Episode 2", "Episode 1"]
    assert all(u.startswith("yoto:#") for u in yoto_urls(yoto_cloud_env, card))
    client = sched_api.login()
    assert client.get(f"/api/cards/{pod['card_id']}").json()["storage"] == "yoto"

    r = client.patch(f"/api/podcasts/{pod['id']}", json={"storage": "stream"})
    assert r.status_code == 200 and r.json()["storage"] == "stream"
    assert all(u.startswith("yoto:#") for u in yoto_urls(yoto_cloud_env, card))  # until the next refresh
    out = refreshed(client, pod["id"])
    assert out["last_run"]["status"] == "ok", out
    assert out["yoto_card_id"] == card and out["storage"] == "stream"
    assert all(u.startswith("http") for u in yoto_urls(yoto_cloud_env, card))
    assert client.get(f"/api/cards/{pod['card_id']}").json()["storage"] == "stream"
    assert client.patch(f"/api/podcasts/{pod['id']}", json={"storage": "tape"}).status_code == 422
    assert client.get(f"/api/podcasts/{pod['id']}").json()["storage"] == "stream"
