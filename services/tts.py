"""Text to speech into the library, with a per-request cap and a per-user
daily quota.

The quota is charged before synthesis, atomically through the records'
counters, so two requests at once cannot both squeeze past it; a request that
fails gets its characters back. A text over the per-request cap is refused
without a Retry-After (it must be split); a text over what is left today
carries one (until the UTC day ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.errors import BackendUnavailable, Invalid, RateLimited
from core.ports import CounterRepository, TextToSpeech
from core.records import AudioItem, User, Voice
from core.settings import Settings
from services.ingest import IngestPorts, ingest, scratch_dir

REMAINING_HEADER = "X-TTS-Remaining"


@dataclass(frozen=True)
class TtsLimits:
    max_chars: int
    daily_chars: int

    @classmethod
    def of(cls, settings: Settings) -> TtsLimits:
        return cls(settings.tts_max_chars, settings.tts_daily_chars)


def _quota_key(username: str, now: datetime) -> tuple[str, int]:
    """The counter key for today and the seconds until the UTC day ends."""
    day_end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return f"tts:{username}:{now:%Y-%m-%d}", max(1, int((day_end - now).total_seconds()))


def remaining_today(counters: CounterRepository, limits: TtsLimits, username: str) -> int:
    key, _ = _quota_key(username, datetime.now(UTC))
    return max(0, limits.daily_chars - counters.get(key))


def voices(tts: TextToSpeech) -> list[Voice]:
    try:
        return tts.voices()
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"the speech engine is unavailable: {exc}") from None


@dataclass(frozen=True)
class TtsPorts:
    """Speech into the library: the engine, the quota's counters and limits, the ingest it ends in."""

    tts: TextToSpeech
    counters: CounterRepository
    limits: TtsLimits
    ingest: IngestPorts


def speak(
    ports: TtsPorts,
    user: User,
    *,
    text: str,
    title: str,
    voice: str | None = None,
    language: str | None = None,
) -> AudioItem:
    tts, counters, limits, ingested = ports.tts, ports.counters, ports.limits, ports.ingest
    text = text.strip()
    if not text:
        raise Invalid("text is empty")
    if len(text) > limits.max_chars:
        remaining = remaining_today(counters, limits, user.owner_id)
        raise RateLimited(
            f"text has {len(text)} characters; one request may have at most {limits.max_chars} "
            f"({remaining} characters left today)",
            headers={REMAINING_HEADER: str(remaining)},
        )
    if not title.strip():
        raise Invalid("title must not be empty")
    key, left_s = _quota_key(user.owner_id, datetime.now(UTC))
    # Keep the counter a little past midnight so a late request cannot reopen the day.
    ttl = left_s + 60
    total = counters.add(key, len(text), ttl_s=ttl)
    if total > limits.daily_chars:
        counters.add(key, -len(text), ttl_s=ttl)
        remaining = max(0, limits.daily_chars - (total - len(text)))
        raise RateLimited(
            f"daily text-to-speech quota reached: {remaining} characters left today, this text has {len(text)}",
            headers={"Retry-After": str(left_s), REMAINING_HEADER: str(remaining)},
        )
    try:
        speech = tts.synthesize(text, voice=voice, language=language)
        with scratch_dir(ingested.scratch) as work:
            src = work / "speech.mp3"
            src.write_bytes(speech.audio)
            return ingest(ingested, src, owner=user.owner_id, title=title.strip(), source="tts")
    except BaseException as exc:
        counters.add(key, -len(text), ttl_s=ttl)
        if isinstance(exc, BackendUnavailable):
            raise BackendUnavailable(f"the speech engine is unavailable: {exc}") from None
        if isinstance(exc, ValueError):
            raise Invalid(f"the speech engine refused the request: {exc}") from None
        raise
