"""Text to speech on the family's own machine: gTTS, with espeak-ng offline.

gTTS calls Google's translate voice over the internet. When that fails (no
network, an HTTP error, a block) the same text is spoken by espeak-ng, which
runs here, so a story still gets made; the `Speech.engine` says which one
spoke. `TTS_ENGINE=espeak` skips gTTS altogether (no traffic leaves the host).

espeak-ng writes WAV; the `lame` encoder turns it into MP3. Both are Debian
packages (`scripts/system-deps.sh`). The MP3 is left at espeak's own rate and
channel count: the app normalises every item to one layout when it stores it.

Voice ids carry their engine: `gtts:en-gb`, `espeak:fr-fr`. A bare language
("en", "en-GB", "fr") picks a sensible voice of the configured engine.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import BackendUnavailable
from core.records import Speech, Voice
from core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en-gb"

# gTTS speaks one language with the accent of a Google domain (its `tld`).
_GTTS_ACCENTS: dict[str, tuple[str, str, str]] = {
    "en-gb": ("en", "co.uk", "English (United Kingdom)"),
    "en-us": ("en", "com", "English (United States)"),
    "en-au": ("en", "com.au", "English (Australia)"),
    "en-ca": ("en", "ca", "English (Canada)"),
    "en-in": ("en", "co.in", "English (India)"),
    "en-ie": ("en", "ie", "English (Ireland)"),
    "fr-fr": ("fr", "fr", "French (France)"),
    "fr-ca": ("fr", "ca", "French (Canada)"),
    "pt-br": ("pt", "com.br", "Portuguese (Brazil)"),
    "pt-pt": ("pt", "pt", "Portuguese (Portugal)"),
    "es-es": ("es", "es", "Spanish (Spain)"),
    "es-mx": ("es", "com.mx", "Spanish (Mexico)"),
}

# espeak-ng has no plain "en" or "fr" voice; these regional ones stand in.
_ESPEAK_DEFAULTS = {"en": "en-gb", "fr": "fr-fr", "pt": "pt", "es": "es", "de": "de"}

_RUN_TIMEOUT_S = 120


class LocalTTS:
    """The `TextToSpeech` port on the local side."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._espeak_voices: dict[str, Voice] | None = None
        self._gtts_voices: dict[str, Voice] | None = None

    # ----------------------------------------------------------------- voices

    def voices(self) -> list[Voice]:
        espeak = list(self._espeak().values()) if shutil.which("espeak-ng") else []
        if self.settings.tts_engine == "espeak":
            if not espeak:
                raise BackendUnavailable("espeak-ng is not installed (see scripts/system-deps.sh)")
            return espeak
        return [*self._gtts().values(), *espeak]

    def _espeak(self) -> dict[str, Voice]:
        if self._espeak_voices is None:
            out = self._run([_need("espeak-ng"), "--voices"], what="espeak-ng --voices").decode("utf-8", "replace")
            self._espeak_voices = parse_espeak_voices(out)
        return self._espeak_voices

    def _gtts(self) -> dict[str, Voice]:
        if self._gtts_voices is None:
            from gtts.lang import tts_langs

            found = {
                f"gtts:{code.lower()}": Voice(f"gtts:{code.lower()}", name, code.lower(), "gtts")
                for code, name in tts_langs().items()
            }
            for code, (_, _, name) in _GTTS_ACCENTS.items():
                found[f"gtts:{code}"] = Voice(f"gtts:{code}", name, code, "gtts")
            self._gtts_voices = found
        return self._gtts_voices

    # ------------------------------------------------------------- synthesis

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Speech:
        text = text.strip()
        if not text:
            raise ValueError("there is no text to speak")
        if len(text) > self.settings.tts_max_chars:
            raise ValueError(
                f"the text has {len(text)} characters, more than the {self.settings.tts_max_chars} allowed"
            )
        engine, code = self._choose(voice, language)
        if engine == "gtts":
            try:
                return Speech(self._gtts_mp3(text, code), "mp3", f"gtts:{code}", "gtts", len(text))
            except _GttsFailed as exc:
                log.warning("gTTS could not speak (%s); falling back to espeak-ng", exc)
                engine, code = "espeak", self._espeak_voice_for(code)
        audio = self._espeak_mp3(text, code)
        return Speech(audio, "mp3", f"espeak:{code}", "espeak", len(text))

    def _choose(self, voice: str | None, language: str | None) -> tuple[str, str]:
        """(engine, voice code) for the request; `ValueError` for a voice we do not have."""
        if voice:
            engine, _, code = voice.lower().partition(":")
            if not code:
                engine, code = self.settings.tts_engine, engine
            if engine == "espeak":
                if code not in self._espeak():
                    raise ValueError(f"unknown espeak-ng voice {voice!r}")
                return "espeak", code
            if engine == "gtts" and self.settings.tts_engine == "gtts":
                if f"gtts:{code}" not in self._gtts():
                    raise ValueError(f"unknown gTTS voice {voice!r}")
                return "gtts", code
            raise ValueError(f"unknown voice {voice!r}")
        lang = (language or DEFAULT_LANGUAGE).lower().replace("_", "-")
        if self.settings.tts_engine == "gtts":
            voices = self._gtts()
            if f"gtts:{lang}" in voices:
                return "gtts", lang
            base = lang.split("-")[0]
            if f"gtts:{base}" in voices:
                return "gtts", base
            raise ValueError(f"no voice speaks {language!r}")
        return "espeak", self._espeak_voice_for(lang)

    def _espeak_voice_for(self, lang: str) -> str:
        voices = self._espeak()
        base = lang.split("-")[0]
        for candidate in (lang, _ESPEAK_DEFAULTS.get(base), base):
            if candidate and candidate in voices:
                return candidate
        for code in sorted(voices):
            if code.startswith(base + "-"):
                return code
        raise ValueError(f"no espeak-ng voice speaks {lang!r}")

    def _gtts_mp3(self, text: str, code: str) -> bytes:
        from gtts import gTTS, gTTSError
        from requests import RequestException

        lang, tld, _ = _GTTS_ACCENTS.get(code, (code, "com", ""))
        buf = io.BytesIO()
        try:
            gTTS(text, lang=lang, tld=tld).write_to_fp(buf)
        except (gTTSError, RequestException, OSError) as exc:
            raise _GttsFailed(str(exc) or type(exc).__name__) from exc
        data = buf.getvalue()
        if not _looks_like_mp3(data):
            raise _GttsFailed(f"the answer was not MP3 ({len(data)} bytes)")
        return data

    def _espeak_mp3(self, text: str, code: str) -> bytes:
        espeak, lame = _need("espeak-ng"), _need("lame")
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            wav, mp3 = Path(tmp) / "speech.wav", Path(tmp) / "speech.mp3"
            # Text goes in on stdin: no length limit, and text starting with "-" is not an option.
            self._run([espeak, "-v", code, "-b", "1", "-w", str(wav), "--stdin"], what="espeak-ng", stdin=text)
            self._run([lame, "--quiet", "--cbr", "-b", "64", str(wav), str(mp3)], what="lame")
            data = mp3.read_bytes()
        if not _looks_like_mp3(data):
            raise BackendUnavailable("espeak-ng and lame produced no MP3")
        return data

    @staticmethod
    def _run(cmd: list[str], *, what: str, stdin: str | None = None) -> bytes:
        try:
            done = subprocess.run(
                cmd,
                input=stdin.encode("utf-8") if stdin is not None else None,
                capture_output=True,
                timeout=_RUN_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendUnavailable(f"{what} could not run: {exc}") from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip()[:300]
            raise BackendUnavailable(f"{what} failed with exit code {done.returncode}: {err}")
        return done.stdout


class _GttsFailed(Exception):
    """gTTS did not deliver MP3; the caller falls back to espeak-ng."""


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise BackendUnavailable(f"{program} is not installed (see scripts/system-deps.sh)")
    return path


def _looks_like_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def parse_espeak_voices(listing: str) -> dict[str, Voice]:
    """Voices from `espeak-ng --voices`: `Pty Language Age/Gender VoiceName File [Other languages]`."""
    voices: dict[str, Voice] = {}
    for line in listing.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        code = parts[1].lower()
        voices.setdefault(code, Voice(f"espeak:{code}", parts[3].replace("_", " "), code, "espeak"))
    return voices
