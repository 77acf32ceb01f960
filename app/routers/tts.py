"""Text to speech into the library (quota rules in `services.tts`)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import RootDep, UserDep
from app.schemas.audio import AudioOut, TtsIn, TtsQuotaOut, VoiceOut
from app.schemas.common import ERRORS
from services import tts

router = APIRouter(tags=["tts"])


@router.post("/api/audio/tts", response_model=AudioOut, status_code=201, responses=ERRORS(401, 403, 413, 422, 429, 503))
def text_to_speech(body: TtsIn, root: RootDep, user: UserDep) -> AudioOut:
    """429 with the characters left today (in the reason and in
    `X-TTS-Remaining`) when the text is over `TTS_MAX_CHARS` or would pass
    `TTS_DAILY_CHARS`; only the latter carries Retry-After."""
    item = tts.speak(
        root.tts,
        user,
        text=body.text,
        title=body.title,
        voice=body.voice,
        language=body.language,
    )
    return AudioOut.of(item)


@router.get("/api/tts/voices", response_model=list[VoiceOut], responses=ERRORS(401, 503))
def voices(root: RootDep, _: UserDep) -> list[VoiceOut]:
    return [VoiceOut.of(v) for v in tts.voices(root.adapters.tts)]


@router.get("/api/tts/quota", response_model=TtsQuotaOut, responses=ERRORS(401))
def quota(root: RootDep, user: UserDep) -> TtsQuotaOut:
    """Characters you may still have spoken today (UTC), the daily allowance and the most per text."""
    ports = root.tts
    limits = ports.limits
    left = tts.remaining_today(ports.counters, limits, user.owner_id)
    return TtsQuotaOut(remaining_today=left, daily_chars=limits.daily_chars, max_chars=limits.max_chars)
