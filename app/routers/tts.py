"""Text to speech into the library, with a per-request cap and a per-user
daily quota.

Answers: 422 for empty or whitespace-only text; 429 with the characters left
today (in the reason and in `X-TTS-Remaining`) when one request is over
`TTS_MAX_CHARS` or would pass `TTS_DAILY_CHARS` for the UTC day (only the
latter carries `Retry-After`: a text over the per-request cap must be split).
The quota is charged before synthesis, atomically through `records.counters`,
so two requests at once cannot both squeeze past it; a request that fails
gets its characters back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException

from adapters import Adapters
from app.deps import AdaptersDep, UserDep
from app.ingest import ingest, scratch_dir
from app.schemas import AudioOut, TtsIn, VoiceOut
from core.errors import BackendUnavailable
from core.records import AudioItem, User

router = APIRouter(tags=["tts"])


def _quota_key(username: str, now: datetime) -> tuple[str, int]:
    """The counter key for today and the seconds until the UTC day ends."""
    day_end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return f"tts:{username}:{now:%Y-%m-%d}", max(1, int((day_end - now).total_seconds()))


def _speak(adapters: Adapters, body: TtsIn, text: str, user: User) -> AudioItem:
    settings = adapters.settings
    counters = adapters.records.counters
    key, left_s = _quota_key(user.username, datetime.now(UTC))
    # Keep the counter a little past midnight so a late request cannot reopen the day.
    ttl = left_s + 60
    total = counters.add(key, len(text), ttl_s=ttl)
    if total > settings.tts_daily_chars:
        counters.add(key, -len(text), ttl_s=ttl)
        remaining = max(0, settings.tts_daily_chars - (total - len(text)))
        raise HTTPException(
            429,
            f"daily text-to-speech quota reached: {remaining} characters left today, this text has {len(text)}",
            headers={"Retry-After": str(left_s), "X-TTS-Remaining": str(remaining)},
        )
    try:
        speech = adapters.tts.synthesize(text, voice=body.voice, language=body.language)
        with scratch_dir(adapters) as work:
            src = work / "speech.mp3"
            src.write_bytes(speech.audio)
            return ingest(adapters, src, owner=user.username, title=body.title.strip(), source="tts")
    except BaseException as exc:
        counters.add(key, -len(text), ttl_s=ttl)
        if isinstance(exc, BackendUnavailable):
            raise HTTPException(503, f"the speech engine is unavailable: {exc}") from None
        if isinstance(exc, ValueError):
            raise HTTPException(422, f"the speech engine refused the request: {exc}") from None
        raise


@router.post("/api/audio/tts", response_model=AudioOut, status_code=201)
def text_to_speech(body: TtsIn, adapters: AdaptersDep, user: UserDep) -> AudioOut:
    text = body.text.strip()
    if not text:
        raise HTTPException(422, "text is empty")
    settings = adapters.settings
    if len(text) > settings.tts_max_chars:
        key, _ = _quota_key(user.username, datetime.now(UTC))
        remaining = max(0, settings.tts_daily_chars - adapters.records.counters.get(key))
        raise HTTPException(
            429,
            f"text has {len(text)} characters; one request may have at most {settings.tts_max_chars} "
            f"({remaining} characters left today)",
            headers={"X-TTS-Remaining": str(remaining)},
        )
    if not body.title.strip():
        raise HTTPException(422, "title must not be empty")
    return AudioOut.of(_speak(adapters, body, text, user))


@router.get("/api/tts/voices", response_model=list[VoiceOut])
def voices(adapters: AdaptersDep, _: UserDep) -> list[VoiceOut]:
    try:
        return [VoiceOut.of(v) for v in adapters.tts.voices()]
    except BackendUnavailable as exc:
        raise HTTPException(503, f"the speech engine is unavailable: {exc}") from None
