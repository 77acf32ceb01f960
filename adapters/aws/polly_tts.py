"""Text to speech with Amazon Polly.

The voice list comes from DescribeVoices once per adapter (one Lambda
container) because it changes rarely and every synthesis needs it to pick an
engine: neural when the voice has it and `POLLY_ENGINE` allows it (better
sound, dearer), else standard.

SynthesizeSpeech takes at most 3,000 billed characters a request, so longer
text is cut at sentence ends (then at spaces, then anywhere) and the MP3
answers are joined. Polly's MP3 is bare MPEG frames of one layout per voice
and engine, so joined answers play as one file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from adapters.aws.clients import client
from core.errors import BackendUnavailable
from core.records import Speech, Voice
from core.settings import Settings

# Polly's limit is 3,000 billed characters a request; stay a little under.
MAX_REQUEST_CHARS = 2900
DEFAULT_LANGUAGE = "en-GB"
_PREFERRED = {"en-GB": "Amy", "en-US": "Joanna", "fr-FR": "Lea", "de-DE": "Vicki", "es-ES": "Lucia"}
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")
_UNAVAILABLE_CODES = {"ServiceFailureException", "ServiceUnavailable", "ThrottlingException", "Throttling"}


class PollyTTS:
    """The `TextToSpeech` port on AWS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._voices: dict[str, dict[str, Any]] | None = None

    @property
    def polly(self) -> Any:
        if self._client is None:
            self._client = client(self.settings, "polly")
        return self._client

    def voices(self) -> list[Voice]:
        return [
            Voice(v["Id"], v.get("Name", v["Id"]), v["LanguageCode"], self._engine_for(v))
            for v in self._described().values()
            if self._usable(v)
        ]

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Speech:
        text = text.strip()
        if not text:
            raise ValueError("there is no text to speak")
        if len(text) > self.settings.tts_max_chars:
            limit = self.settings.tts_max_chars
            raise ValueError(f"the text has {len(text)} characters, more than the {limit} allowed")
        chosen = self._choose(voice, language)
        engine = self._engine_for(chosen)
        audio = bytearray()
        billed = 0
        for chunk in split_text(text, MAX_REQUEST_CHARS):
            answer = self._call(
                "synthesize_speech",
                Text=chunk,
                TextType="text",
                VoiceId=chosen["Id"],
                Engine=engine,
                OutputFormat="mp3",
            )
            audio += _read_all(answer["AudioStream"])
            billed += int(answer.get("RequestCharacters") or len(chunk))
        return Speech(bytes(audio), "mp3", chosen["Id"], engine, billed)

    # --------------------------------------------------------------- choosing

    def _described(self) -> dict[str, dict[str, Any]]:
        if self._voices is None:
            found: dict[str, dict[str, Any]] = {}
            token: str | None = None
            while True:
                page = self._call("describe_voices", **({"NextToken": token} if token else {}))
                for v in page.get("Voices", []):
                    found[v["Id"]] = v
                token = page.get("NextToken")
                if not token:
                    break
            self._voices = found
        return self._voices

    def _usable(self, v: dict[str, Any]) -> bool:
        engines = set(v.get("SupportedEngines") or ["standard"])
        if self.settings.polly_engine == "standard":
            return "standard" in engines
        if self.settings.polly_engine == "neural":
            return "neural" in engines
        return bool(engines & {"neural", "standard"})

    def _engine_for(self, v: dict[str, Any]) -> str:
        engines = set(v.get("SupportedEngines") or ["standard"])
        if "neural" in engines and self.settings.polly_engine in ("neural", "auto"):
            return "neural"
        return "standard"

    def _choose(self, voice: str | None, language: str | None) -> dict[str, Any]:
        voices = {k: v for k, v in self._described().items() if self._usable(v)}
        if voice:
            by_lower = {k.lower(): v for k, v in voices.items()}
            found = by_lower.get(voice.lower())
            if found is None:
                raise ValueError(f"unknown Polly voice {voice!r} for engine setting {self.settings.polly_engine!r}")
            return found
        wanted = (language or DEFAULT_LANGUAGE).replace("_", "-").lower()
        exact = [v for v in voices.values() if v["LanguageCode"].lower() == wanted]
        near = [v for v in voices.values() if v["LanguageCode"].lower().split("-")[0] == wanted.split("-")[0]]
        for group in (exact, near):
            if not group:
                continue
            # Deterministic: the house voice of the region, then neural ones, then by id;
            # a bare "en" prefers the default region (en-GB) over the others.
            return min(
                group,
                key=lambda v: (
                    _PREFERRED.get(v["LanguageCode"]) != v["Id"],
                    v["LanguageCode"].lower() != DEFAULT_LANGUAGE.lower(),
                    self._engine_for(v) != "neural",
                    v["Id"],
                ),
            )
        raise ValueError(f"no Polly voice speaks {language!r}")

    # ---------------------------------------------------------------- calling

    def _call(self, op: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

        try:
            return getattr(self.polly, op)(**params)
        except (ConnectionError, HTTPClientError) as exc:
            raise BackendUnavailable(f"Polly cannot be reached: {exc}") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _UNAVAILABLE_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise BackendUnavailable(f"Polly is unavailable: {code}") from exc
            raise ValueError(f"Polly refused the request: {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendUnavailable(f"Polly call failed: {exc}") from exc


def _read_all(stream: Any) -> bytes:
    """The body of a SynthesizeSpeech answer; a connection lost mid-body is an outage too."""
    from botocore.exceptions import BotoCoreError

    try:
        return bytes(stream.read())
    except (BotoCoreError, OSError) as exc:
        raise BackendUnavailable(f"Polly's audio stream broke off: {exc}") from exc
    finally:
        stream.close()


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at sentence ends where possible,
    else at spaces, else anywhere; every character of `text` except the
    whitespace at the cuts is kept, in order."""
    return _pack((part for sentence in _SENTENCE_END.split(text) for part in _fit(sentence, limit)), limit)


def _fit(sentence: str, limit: int) -> list[str]:
    """A sentence as pieces of at most `limit`: whole when it fits, else cut at
    spaces, and a word longer than `limit` cut anywhere."""
    if len(sentence) <= limit:
        return [sentence]
    words = [word[i : i + limit] for word in sentence.split() for i in range(0, len(word), limit)]
    return _pack(words, limit)


def _pack(parts: Iterable[str], limit: int) -> list[str]:
    """Join consecutive parts with a space while the result stays within `limit`."""
    out: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > limit:
            out.append(current)
            current = part
        else:
            current = f"{current} {part}" if current else part
    if current:
        out.append(current)
    return out
