"""A day-by-day (Advent) card from a playlist over HTTP against the fake Yoto cloud:
each chapter carries the instant it opens where Yoto's schema puts it
(`availableFrom`), the playlist says which are open, and the schedule can change
or go without the card changing its id."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.yoto_api.conftest import ADMIN, YApi, link


def test_an_advent_card_opens_chapter_n_on_day_n_and_the_schedule_moves_in_place(yapi: YApi) -> None:
    mum: TestClient = yapi.login(ADMIN)
    link(mum)
    ids = [yapi.item(title=f"Night {n}").id for n in range(1, 4)]
    pid = mum.post("/api/playlists", json={"name": "Countdown", "audio_ids": ids, "storage": "stream"}).json()["id"]

    bad = mum.post(f"/api/playlists/{pid}/card", json={"opens": {"from": "2026-12-01", "every": "month"}})
    assert bad.status_code == 422
    made = mum.post(f"/api/playlists/{pid}/card", json={"opens": {"from": "2026-12-01"}})
    assert made.status_code == 201, made.text
    card_id = made.json()["yoto_card_id"]
    chapters = yapi.sim_card(card_id)["content"]["chapters"]
    assert [c["availableFrom"] for c in chapters] == [
        "2026-12-01T00:00:00.000Z",
        "2026-12-02T00:00:00.000Z",
        "2026-12-03T00:00:00.000Z",
    ]
    shown = mum.get(f"/api/playlists/{pid}").json()
    assert shown["opens"]["from"] == "2026-12-01" and shown["opens"]["every"] == "day"
    assert len(shown["opens"]["opens_at"]) == 3 and 0 <= shown["opens"]["open_now"] <= 3

    weekly = mum.put(f"/api/playlists/{pid}", json={"opens": {"from": "2027-01-04", "every": "week"}})
    assert weekly.status_code == 200 and weekly.json()["opens"]["every"] == "week"
    unlocked = mum.put(f"/api/playlists/{pid}", json={"opens": None})
    assert unlocked.status_code == 200 and unlocked.json()["opens"] is None
    assert mum.put(f"/api/playlists/{pid}", json={"name": "Countdown!"}).json()["opens"] is None  # left out: kept
    assert mum.get(f"/api/playlists/{pid}").json()["yoto_card_id"] == card_id
