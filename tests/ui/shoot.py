"""Screenshots of every page at a phone and a laptop width, for docs/screenshots/.

    .venv/bin/python -m tests.ui.shoot [docs/screenshots]

Runs what the UI tests run (the app on the local adapters, the Yoto
simulator, mosquitto and one simulated player, all on 127.0.0.1), fills the
library, a card and a playlist with example content, and writes
`<page>-<phone|laptop>.png` (plus `library-phone-dark.png`). Pages whose API
this server does not have yet are shot as they are: saying so.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from tests.audio_fixtures import write_tone
from tests.brokers import run_mosquitto
from tests.feeds import FeedServer, Served, rss, serve_feeds
from tests.ui.conftest import ADMIN, CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, linked_admin, serve_ui

PAGES = ["library", "cards", "playlists", "players", "podcasts", "routines", "stories", "yoto", "family", "account"]


def _api(page: Page, base: str, method: str, path: str, **kw: Any) -> Any:
    r = page.context.request.fetch(f"{base}{path}", method=method, headers={"Origin": base}, **kw)
    if not r.ok:
        print(f"  {method} {path}: {r.status} {r.text()[:120]}")
        return None
    return r.json() if r.status != 204 else None


def _example_content(page: Page, base: str, work: Path, features: dict[str, bool]) -> None:
    ids = []
    for i, title in enumerate(
        ["The owl who was afraid of the dark", "Rain on the tent", "Grandma reads: The Gruffalo"]
    ):
        path = write_tone(work / f"{i}.mp3", "mp3", seconds=3 + i, freq=300 + 60 * i)
        files = {"file": {"name": path.name, "mimeType": "audio/mpeg", "buffer": path.read_bytes()}, "title": title}
        item = _api(page, base, "POST", "/api/audio", multipart=files)
        ids.append(item["id"])
    _api(
        page,
        base,
        "POST",
        "/api/audio/tts",
        data={"title": "Goodnight message from Dad", "text": "Goodnight, sleep tight."},
    )
    _api(page, base, "POST", "/api/users", data={"username": "ben", "password": "ben-has-a-long-password"})
    if features.get("cards"):
        tracks = [{"audio_id": i} for i in ids[:2]]
        _api(page, base, "POST", "/api/cards", data={"title": "Bedtime stories", "tracks": tracks})
    if features.get("playlists"):
        made = _api(page, base, "POST", "/api/playlists", data={"name": "Quiet time", "audio_ids": ids})
        if made and features.get("yoto"):
            _api(page, base, "POST", f"/api/playlists/{made['id']}/card")


def _podcast(page: Page, base: str, work: Path, feeds: FeedServer) -> None:
    """A podcast card from a feed served on 127.0.0.1 (three short episodes)."""
    days = ["Mon, 02 Nov 2026 07:00:00 GMT", "Mon, 09 Nov 2026 07:00:00 GMT", "Mon, 16 Nov 2026 07:00:00 GMT"]
    titles = ["The fox and the lantern", "A boat made of moonlight", "Why owls stay up late"]
    episodes = []
    for i, (day, title) in enumerate(zip(days, titles, strict=True)):
        audio = write_tone(work / f"ep{i}.mp3", "mp3", seconds=2, freq=260 + 40 * i).read_bytes()
        feeds.routes[f"/ep{i}.mp3"] = Served(200, audio, {"Content-Type": "audio/mpeg"})
        episodes.append((f"ep-{i}", title, day, f"{feeds.url}/ep{i}.mp3"))
    feeds.routes["/feed.xml"] = Served(200, rss("Stories at Sunset", episodes), {"Content-Type": "application/rss+xml"})
    made = _api(page, base, "POST", "/api/podcasts", data={"feed_url": f"{feeds.url}/feed.xml", "episodes": 2})
    run = (made or {}).get("last_run") or {}
    for _ in range(300):  # the first run fills the card on a worker (202): the screenshot wants it done
        if not run.get("id") or run.get("status") not in ("queued", "running"):
            break
        time.sleep(0.1)
        run = _api(page, base, "GET", f"/api/runs/{run['id']}") or {}


def _routine(page: Page, base: str, player_id: str, card_id: str) -> None:
    days = ["sun", "mon", "tue", "wed", "thu"]
    bedtime = {"template": "bedtime", "player_id": player_id, "at": "19:30", "days": days, "card_id": card_id}
    _api(page, base, "POST", "/api/routines/from-template", data={**bedtime, "name": "School-night bedtime"})
    quiet = {"template": "quiet_time", "player_id": player_id, "at": "07:00", "days": ["sat", "sun"]}
    _api(page, base, "POST", "/api/routines/from-template", data={**quiet, "name": "Weekend lie-in"})


def main(out: Path) -> None:
    from simulator.cloud import start_cloud
    from simulator.players import PlayerSpec, start_players

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ui-shots-"))
    (work / "broker").mkdir()
    with (
        start_cloud(seed_devices=False) as cloud,
        run_mosquitto(work / "broker") as broker,
        start_players(broker.config("tcp"), [PlayerSpec("bedroom-1", battery=64)]) as fleet,
        serve_feeds() as feeds,
    ):
        cloud.add_device("bedroom-1", "Bedroom")
        with serve_ui(work, cloud, broker, prepare=linked_admin(cloud)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            seed = browser.new_page()
            base = server.url
            features = seed.context.request.get(f"{base}/api/ui/features").json()["features"]
            _sign_in(seed, base)
            _example_content(seed, base, work, features)
            if features.get("cards"):
                cards = seed.context.request.get(f"{base}/api/cards").json()["items"]
                if cards and cards[0].get("yoto_card_id"):
                    from simulator.players import sample_card

                    cid = cards[0]["yoto_card_id"]
                    fleet["bedroom-1"].cards[cid] = sample_card(cid, length_s=420)
                    _api(seed, base, "POST", "/api/players/bedroom-1/commands", data={"action": "play", "card_id": cid})
                    if features.get("routines"):
                        _routine(seed, base, "bedroom-1", cid)
            if features.get("podcasts"):
                _podcast(seed, base, work, feeds)
            seed.context.close()
            for width, viewport in VIEWPORTS.items():
                schemes = ["light", "dark"] if width == "phone" else ["light"]
                for scheme in schemes:
                    ctx = browser.new_context(viewport=viewport, color_scheme=scheme, device_scale_factor=1)
                    page = ctx.new_page()
                    page.goto(f"{base}/#/library")
                    suffix = "" if scheme == "light" else "-dark"
                    if scheme == "light":
                        page.get_by_label("Username").fill(ADMIN[0])
                        page.screenshot(path=str(out / f"sign-in-{width}.png"))
                    _sign_in(page, base)
                    for route in PAGES if scheme == "light" else ["library"]:
                        page.evaluate("r => { location.hash = '#/' + r; }", route)
                        page.locator(f".page-{route} h1").wait_for()
                        page.locator("main[aria-busy='false']").wait_for(state="attached")
                        _stage(page, route)
                        page.wait_for_timeout(600)
                        page.screenshot(path=str(out / f"{route}-{width}{suffix}.png"), full_page=True)
                    ctx.close()
            browser.close()
    print(f"screenshots in {out}")


def _stage(page: Page, route: str) -> None:
    """Show a page in use: a card being made, a playlist open."""
    if route == "cards" and page.get_by_label("Card title").count():
        page.get_by_label("Card title").fill("Owls and rain")
        for title in ("Add The owl who was afraid of the dark", "Add Rain on the tent"):
            page.get_by_role("button", name=title).click()
        page.wait_for_timeout(800)  # the suggested icons
    if route == "playlists" and page.get_by_role("button", name="Open Quiet time").count():
        page.get_by_role("button", name="Open Quiet time").click()
        page.get_by_role("list", name="Items in order").get_by_role("listitem").first.wait_for()
    page.evaluate("() => window.scrollTo(0, 0)")


def _sign_in(page: Page, base: str) -> None:
    if "#/" not in page.url:
        page.goto(f"{base}/#/library")
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.locator("main[aria-busy='false']").wait_for(state="attached")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
