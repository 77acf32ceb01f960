"""Text to speech through the API, on both adapter sets.

Locally the real espeak-ng engine speaks (the settings pick `espeak`, so no
test can reach Google). On AWS the request really goes to Polly on the moto
server, but moto answers 8 zero bytes instead of audio; the aws tests
therefore wrap the adapter's `synthesize`: the Polly call still happens, and
only its audio is swapped for a real MP3 made in the test, so the rest of the
path (normalise → store → record) runs on real audio.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import BackendUnavailable
from tests.api.audio_files import tone
from tests.api.conftest import ADMIN, MEMBER, Api, assert_nothing_left


@pytest.fixture
def spoken(api: Api, audio_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the engine was asked to speak (see the module docstring for aws)."""
    asked: list[str] = []
    tts = api.adapters.tts
    real = tts.synthesize
    mp3 = tone(audio_dir, "mp3", seconds=2.0).read_bytes()

    def synthesize(text: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        asked.append(text)
        speech = real(text, **kwargs)
        return replace(speech, audio=mp3) if api.settings.use_aws else speech

    monkeypatch.setattr(tts, "synthesize", synthesize)
    return asked


def _today(username: str) -> str:
    return f"tts:{username}:{datetime.now(UTC):%Y-%m-%d}"


def test_voices(api: Api) -> None:
    r = api.login(MEMBER).get("/api/tts/voices")
    assert r.status_code == 200
    voices = r.json()
    assert voices and all(set(v) == {"id", "name", "language", "engine"} for v in voices)
    assert api.client().get("/api/tts/voices").status_code == 401


def test_tts_makes_an_audio_item(api: Api, spoken: list[str]) -> None:
    c = api.login(MEMBER)
    text = "Once upon a time there was a little fox who loved to sing."
    r = c.post("/api/audio/tts", json={"text": f"  {text}  ", "title": "The fox", "language": "en"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["title"] == "The fox" and body["format"] == "mp3" and body["owner"] == MEMBER[0]
    assert body["source"] == "tts"
    assert body["duration_s"] > 1.0
    assert spoken == [text]
    item = api.adapters.records.audio.get(body["id"])
    assert item.source == "tts"
    assert api.adapters.storage.head(item.storage_key).size == body["size_bytes"]
    assert api.adapters.records.counters.get(_today(MEMBER[0])) == len(text)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_422(api: Api, spoken: list[str], text: str) -> None:
    r = api.login(ADMIN).post("/api/audio/tts", json={"text": text, "title": "Nothing"})
    assert r.status_code == 422
    assert r.json()["detail"] == "text is empty"
    assert spoken == []
    assert_nothing_left(api)


def test_text_over_the_request_cap_is_429_with_the_quota_left(api: Api, spoken: list[str]) -> None:
    cap = api.settings.tts_max_chars
    r = api.login(ADMIN).post("/api/audio/tts", json={"text": "a" * (cap + 1), "title": "Long"})
    assert r.status_code == 429
    assert str(cap) in r.json()["detail"]
    assert r.headers["X-TTS-Remaining"] == str(api.settings.tts_daily_chars)
    assert f"{api.settings.tts_daily_chars} characters left today" in r.json()["detail"]
    assert spoken == []
    assert api.adapters.records.counters.get(_today(ADMIN[0])) == 0


def test_daily_quota_is_429_with_what_is_left(api: Api, spoken: list[str]) -> None:
    daily = api.settings.tts_daily_chars
    c = api.login(MEMBER)
    first = "The moon is round and bright tonight. " * 4
    first = first.strip()
    assert c.post("/api/audio/tts", json={"text": first, "title": "Moon"}).status_code == 201
    left = daily - len(first)
    r = c.post("/api/audio/tts", json={"text": "b" * (left + 1), "title": "Too much"})
    assert r.status_code == 429
    assert f"{left} characters left" in r.json()["detail"]
    assert r.headers["x-tts-remaining"] == str(left)
    assert int(r.headers["retry-after"]) > 0
    assert api.adapters.records.counters.get(_today(MEMBER[0])) == len(first)  # refused text is not charged
    assert len(spoken) == 1
    # The quota is per user.
    assert api.login(ADMIN).post("/api/audio/tts", json={"text": "Hello there.", "title": "Hi"}).status_code == 201


def test_failed_synthesis_is_not_charged(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(text: str, **kwargs: Any) -> Any:
        raise BackendUnavailable("no route to the speech service")

    monkeypatch.setattr(api.adapters.tts, "synthesize", down)
    r = api.login(ADMIN).post("/api/audio/tts", json={"text": "Hello there.", "title": "Hi"})
    assert r.status_code == 503
    assert "unavailable" in r.json()["detail"]
    assert api.adapters.records.counters.get(_today(ADMIN[0])) == 0
    assert_nothing_left(api)
