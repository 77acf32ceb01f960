"""The TextToSpeech port: one suite for espeak-ng (local) and Polly (aws).

Local runs the real espeak-ng and lame, and the MP3 is checked frame by frame
and for a duration that grows with the text.

AWS runs against the moto server, whose SynthesizeSpeech answers 8 fake bytes
whatever the request: the audio itself cannot be checked there (the gap is
real: only a run against real Polly would show the sound). What the adapter
controls is the REQUEST, so the AWS side captures every SynthesizeSpeech call
with a botocore `provide-client-params` hook and checks voice, engine, output
format and the text of each piece.

gTTS would call Google: it is never allowed to. Its tests replace the gTTS
class in-process, or cut name resolution so the real gTTS code fails offline.
"""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters import get_adapters
from adapters.aws.polly_tts import PollyTTS
from core.errors import BackendUnavailable
from core.ports import TextToSpeech
from core.records import Speech
from core.settings import Settings
from tests.audio_fixtures import mp3_frames, write_tone
from tests.conftest import AWS_ENV
from tests.servers import free_port

STORY = "Once upon a time, a little fox lived at the edge of a quiet wood. "
LANG_CODE = re.compile(r"^[a-z]{2,8}(-[a-z0-9]{1,8})*$", re.IGNORECASE)


def make_tts(settings: Settings) -> TextToSpeech:
    return get_adapters(settings).tts


class PollyCalls:
    """SynthesizeSpeech parameters as the adapter sent them, in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))


@pytest.fixture
def tts(backend_settings: Settings) -> TextToSpeech:
    return make_tts(backend_settings)


@pytest.fixture
def polly_calls(tts: TextToSpeech) -> PollyCalls:
    calls = PollyCalls()
    if hasattr(tts, "polly"):
        tts.polly.meta.events.register("provide-client-params.polly.SynthesizeSpeech", calls)
    return calls


def mp3_seconds(audio: bytes) -> float:
    import mutagen.mp3

    return float(mutagen.mp3.MP3(io.BytesIO(audio)).info.length)


def assert_real_mp3(audio: bytes) -> None:
    """Every byte belongs to a valid MPEG audio frame, all at one sample rate."""
    headers = mp3_frames(audio)
    assert len(headers) > 10
    assert len({h[2] & 0x0C for h in headers}) == 1


# --------------------------------------------------------------------------- both backends


def test_voices_are_listed_and_well_formed(tts: TextToSpeech, backend_settings: Settings) -> None:
    voices = tts.voices()
    assert voices
    ids = [v.id for v in voices]
    assert len(ids) == len(set(ids))
    for v in voices:
        assert v.id and v.name and v.id.strip() == v.id
        assert LANG_CODE.match(v.language), v
        expected = {"espeak"} if backend_settings.backend == "local" else {"neural", "standard"}
        assert v.engine in expected, v
    assert any(v.language.lower().startswith("en") for v in voices)
    assert any(v.language.lower().startswith("fr") for v in voices)


def test_speaks_english_as_mp3(tts: TextToSpeech, backend_settings: Settings, polly_calls: PollyCalls) -> None:
    text = STORY * 2
    speech = tts.synthesize(text, language="en-GB")
    assert isinstance(speech, Speech)
    assert speech.format == "mp3"
    assert speech.characters == len(text.strip())
    if backend_settings.backend == "local":
        assert (speech.engine, speech.voice) == ("espeak", "espeak:en-gb")
        assert_real_mp3(speech.audio)
        # espeak-ng speaks about 13-18 characters a second at its default speed
        assert 3.0 < mp3_seconds(speech.audio) < 15.0
    else:
        assert (speech.engine, speech.voice) == ("neural", "Amy")
        assert polly_calls.requests == [
            {"Text": text.strip(), "TextType": "text", "VoiceId": "Amy", "Engine": "neural", "OutputFormat": "mp3"}
        ]
        assert speech.audio == b"\x00" * 8  # moto's fixed answer, passed through unchanged


def test_duration_grows_with_the_text(tts: TextToSpeech, backend_settings: Settings, polly_calls: PollyCalls) -> None:
    short = tts.synthesize(STORY, language="en")
    long = tts.synthesize(STORY * 4, language="en")
    assert long.characters == pytest.approx(4 * short.characters, abs=4)
    if backend_settings.backend == "local":
        ratio = mp3_seconds(long.audio) / mp3_seconds(short.audio)
        assert 3.0 < ratio < 5.0
    else:
        assert [len(r["Text"]) for r in polly_calls.requests] == [len(STORY.strip()), len((STORY * 4).strip())]
        assert len(long.audio) == 8  # one request: nothing to join


def test_language_picks_a_voice_that_speaks_it(
    tts: TextToSpeech, backend_settings: Settings, polly_calls: PollyCalls
) -> None:
    # fr-CA: moto lists the fr-FR voice as Id "Lea" (as real Polly does) but only
    # accepts "Léa" in SynthesizeSpeech, so fr-FR cannot be exercised against it.
    speech = tts.synthesize("Il était une fois un petit renard.", language="fr-CA")
    by_id = {v.id: v for v in tts.voices()}
    assert by_id[speech.voice].language.lower().startswith("fr")
    if backend_settings.backend == "aws":
        assert polly_calls.requests[-1]["VoiceId"] == speech.voice
    else:
        assert_real_mp3(speech.audio)


def test_an_explicit_voice_is_used(tts: TextToSpeech, backend_settings: Settings, polly_calls: PollyCalls) -> None:
    wanted = sorted((v for v in tts.voices() if v.language.lower().startswith("en-us")), key=lambda v: v.id)[0]
    speech = tts.synthesize("Good night, moon.", voice=wanted.id)
    assert speech.voice == wanted.id
    assert speech.engine == wanted.engine
    if backend_settings.backend == "aws":
        assert polly_calls.requests[-1]["VoiceId"] == wanted.id
        assert polly_calls.requests[-1]["Engine"] == wanted.engine


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("   ", {}, "no text"),
        ("Hello", {"voice": "no-such-voice"}, "unknown"),
        ("Hello", {"language": "xx-zz"}, "speaks"),
    ],
    ids=["blank", "unknown-voice", "unknown-language"],
)
def test_bad_requests_are_refused_with_a_reason(
    tts: TextToSpeech, polly_calls: PollyCalls, text: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tts.synthesize(text, **kwargs)
    assert polly_calls.requests == []


def test_text_over_the_limit_is_refused(backend_settings: Settings) -> None:
    tts = make_tts(backend_settings.model_copy(update={"tts_max_chars": 100}))
    with pytest.raises(ValueError, match="more than the 100 allowed"):
        tts.synthesize("a" * 101)


def test_unreachable_engine_is_backend_unavailable(
    backend_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if backend_settings.backend == "local":
        monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng to be found
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    tts = make_tts(backend_settings)
    with pytest.raises(BackendUnavailable):
        tts.synthesize("Hello", voice="espeak:en-gb" if backend_settings.backend == "local" else "Amy")


# --------------------------------------------------------------------------- Polly specifics


@pytest.fixture
def polly_settings(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """AWS settings for Polly alone: Polly on moto keeps no state, so these
    tests skip the reset and the table/bucket/user pool `aws_settings` makes."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=tmp_path)


def make_polly(settings: Settings) -> PollyTTS:
    return PollyTTS(settings)


def test_polly_splits_long_text_at_sentences(polly_settings: Settings) -> None:
    settings = polly_settings.model_copy(update={"tts_max_chars": 10_000})
    tts = make_polly(settings)
    calls = PollyCalls()
    tts.polly.meta.events.register("provide-client-params.polly.SynthesizeSpeech", calls)
    sentences = [f"Chapter {i} begins, and the fox walks a little further into the wood. " for i in range(120)]
    text = "".join(sentences).strip()
    assert len(text) > 6000

    speech = tts.synthesize(text)

    pieces = [r["Text"] for r in calls.requests]
    assert len(pieces) == 3
    assert all(len(p) <= 3000 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text
    assert {r["VoiceId"] for r in calls.requests} == {speech.voice}
    assert speech.characters == sum(len(p) for p in pieces)
    assert speech.audio == b"\x00" * 8 * len(pieces)  # the answers, joined in order


def test_polly_engine_follows_voice_and_setting(polly_settings: Settings) -> None:
    auto = make_polly(polly_settings)
    standard_only = next(v for v in auto.voices() if v.engine == "standard")
    assert auto.synthesize("Hi.", voice=standard_only.id).engine == "standard"
    assert auto.synthesize("Hi.", voice="Amy").engine == "neural"

    forced = make_polly(polly_settings.model_copy(update={"polly_engine": "standard"}))
    calls = PollyCalls()
    forced.polly.meta.events.register("provide-client-params.polly.SynthesizeSpeech", calls)
    assert forced.synthesize("Hi.", voice="Amy").engine == "standard"
    assert calls.requests[-1]["Engine"] == "standard"
    assert all(v.engine == "standard" for v in forced.voices())
    with pytest.raises(ValueError, match="unknown Polly voice"):
        forced.synthesize("Hi.", voice="Danielle")  # neural and long-form only


def test_polly_language_choice_is_deterministic(polly_settings: Settings) -> None:
    tts = make_polly(polly_settings)
    assert tts.synthesize("Hi.", language="en").voice == "Amy"  # bare "en": the en-GB house voice
    assert tts.synthesize("Hi.", language="en-US").voice == "Joanna"
    assert tts.synthesize("Salut.", language="fr-CA").voice == "Gabrielle"  # neural before standard, then by id
    assert tts.synthesize("Hi.").voice == "Amy"


def test_polly_voices_are_described_once(polly_settings: Settings) -> None:
    tts = make_polly(polly_settings)
    described: list[dict[str, Any]] = []
    tts.polly.meta.events.register(
        "provide-client-params.polly.DescribeVoices", lambda params, **_: described.append(params)
    )
    first = tts.voices()
    tts.synthesize("Hello.", language="en-US")
    assert tts.voices() == first
    assert len(described) == 1


# --------------------------------------------------------------------------- gTTS (local only)


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Name resolution answers only for this machine; the names asked for are kept."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            asked.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: resolution blocked in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield asked


@pytest.fixture
def gtts_settings(local_settings: Settings) -> Settings:
    return local_settings.model_copy(update={"tts_engine": "gtts"})


def test_gtts_answer_is_returned_as_is(
    gtts_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_internet: list[str]
) -> None:
    import gtts

    known = write_tone(tmp_path / "known.mp3", "mp3", seconds=0.5).read_bytes()
    made: list[dict[str, Any]] = []

    class FakeGTTS:
        def __init__(self, text: str, **kwargs: Any) -> None:
            made.append({"text": text, **kwargs})

        def write_to_fp(self, fp: Any) -> None:
            fp.write(known)

    monkeypatch.setattr(gtts, "gTTS", FakeGTTS)
    tts = make_tts(gtts_settings)

    speech = tts.synthesize("  Hello from the cloud.  ", language="en-GB")

    assert (speech.engine, speech.voice, speech.audio) == ("gtts", "gtts:en-gb", known)
    assert speech.characters == len("Hello from the cloud.")
    assert made == [{"text": "Hello from the cloud.", "lang": "en", "tld": "co.uk"}]
    assert any(v.id == "gtts:en-gb" for v in tts.voices())
    assert any(v.engine == "espeak" for v in tts.voices())  # the fallback can also be chosen
    assert no_internet == []


def test_gtts_connection_error_falls_back_to_espeak(
    gtts_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import gtts
    import requests

    class DownGTTS:
        def __init__(self, text: str, **kwargs: Any) -> None:
            pass

        def write_to_fp(self, fp: Any) -> None:
            raise requests.ConnectionError("Failed to establish a new connection")

    monkeypatch.setattr(gtts, "gTTS", DownGTTS)
    caplog.set_level(logging.WARNING, logger="adapters.local.tts")

    speech = make_tts(gtts_settings).synthesize(STORY, language="fr")

    assert (speech.engine, speech.voice) == ("espeak", "espeak:fr-fr")
    assert_real_mp3(speech.audio)
    assert mp3_seconds(speech.audio) > 2.0
    assert "falling back to espeak-ng" in caplog.text


def test_real_gtts_offline_falls_back_to_espeak(gtts_settings: Settings, no_internet: list[str]) -> None:
    """The real gTTS code, with name resolution cut: what a laptop without
    network sees. Nothing leaves the machine, and espeak-ng speaks instead."""
    speech = make_tts(gtts_settings).synthesize(STORY, language="en-GB")
    assert no_internet, "gTTS should have tried to resolve its host"
    assert all("google" in host for host in no_internet)
    assert (speech.engine, speech.voice) == ("espeak", "espeak:en-gb")
    assert_real_mp3(speech.audio)
