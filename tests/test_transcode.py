"""adapters/audio/transcode.py against audio made here with PyAV and espeak-ng.

The output is checked by means independent of the code under test where it
matters: mutagen reads the MP3 stream info, PyAV decodes the result back to
count samples and zero crossings (the tone must survive, not just "a file").
"""

from __future__ import annotations

import array
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.audio.transcode import (
    mpeg_frame_length,
    normalize,
    probe,
    sniff,
    sniff_bytes,
)
from core.audio import AudioTooLong, UnreadableAudio, UnsupportedAudio
from tests.audio_fixtures import (
    FORMATS,
    corrupt,
    mp3_frames,
    text_file,
    truncate,
    write_speech,
    write_tone,
    write_video_only,
)

ALL_FORMATS = list(FORMATS)


def decode_mono(path: Path) -> tuple[int, int, int]:
    """(sample rate, samples, zero crossings) of a file decoded with PyAV and mixed to mono s16.

    Crossings are counted with hysteresis (from above +1000 to below -1000 and
    back), so the near-silent encoder padding does not add jitter crossings."""
    import av

    crossings = samples = 0
    side = 0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                values = array.array("h", bytes(out.planes[0])[: out.samples * 2])
                for v in values:
                    if (v > 1000 and side < 0) or (v < -1000 and side > 0):
                        crossings += 1
                    if v > 1000:
                        side = 1
                    elif v < -1000:
                        side = -1
                samples += len(values)
    return rate, samples, crossings


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_format_normalises_to_cbr_44k_stereo_mp3(fmt: str, tmp_path: Path) -> None:
    import mutagen.mp3

    spec = FORMATS[fmt]
    src = write_tone(tmp_path / f"tone{spec.suffix}", fmt, seconds=2.5, freq=500)
    dst = tmp_path / "out" / "item.mp3"

    facts = normalize(src, dst)

    assert facts.source_format == spec.name
    assert (facts.sample_rate, facts.channels, facts.bitrate, facts.format) == (44100, 2, 128000, "mp3")
    assert facts.duration_s == pytest.approx(2.5, abs=0.1)
    assert facts.size_bytes == dst.stat().st_size
    info = mutagen.mp3.MP3(dst).info
    assert (info.sample_rate, info.channels, info.bitrate) == (44100, 2, 128000)
    assert info.length == pytest.approx(2.5, abs=0.1)
    rate, samples, crossings = decode_mono(dst)
    assert rate == 44100
    assert samples / rate == pytest.approx(2.5, abs=0.1)
    # 2.5 s of a 500 Hz tone cross zero 2500 times: the sound itself survived
    assert crossings == pytest.approx(2500, rel=0.02)


def test_output_is_bare_frames_of_one_layout_so_items_join(tmp_path: Path) -> None:
    """No ID3 tag, no Info frame, every frame the same version/bitrate/rate/mode:
    two normalised items concatenated decode as one stream of the summed length."""
    a = normalize(write_tone(tmp_path / "a.flac", "flac", seconds=1.5), tmp_path / "a.mp3")
    b = normalize(write_tone(tmp_path / "b.ogg", "ogg-vorbis", seconds=2.0), tmp_path / "b.mp3")
    data_a, data_b = (tmp_path / "a.mp3").read_bytes(), (tmp_path / "b.mp3").read_bytes()
    assert data_a[:3] != b"ID3"
    assert b"Xing" not in data_a[:200] and b"Info" not in data_a[:200]
    headers = mp3_frames(data_a) + mp3_frames(data_b)
    layouts = {(h[0], h[1], h[2] & 0xFC, h[3] >> 6) for h in headers}
    assert len(layouts) == 1, layouts

    joined = tmp_path / "joined.mp3"
    joined.write_bytes(data_a + data_b)
    rate, samples, _ = decode_mono(joined)
    assert samples / rate == pytest.approx(a.duration_s + b.duration_s, abs=0.1)


@pytest.mark.parametrize(("fmt", "rates"), [("aac", (32000, 48000)), ("mp3", (22050, 44100))])
def test_rate_and_layout_changing_mid_stream(fmt: str, rates: tuple[int, int], tmp_path: Path) -> None:
    """Two streams joined byte-wise (a mono low-rate part, then a stereo
    full-rate part), as happens with podcasts cut together: the decoder's
    frames change shape half-way and the output must not."""
    spec = FORMATS[fmt]
    first = write_tone(tmp_path / f"a{spec.suffix}", fmt, seconds=1.5, channels=1, rate=rates[0], freq=500)
    second = write_tone(tmp_path / f"b{spec.suffix}", fmt, seconds=2.0, channels=2, rate=rates[1], freq=500)
    joined = tmp_path / f"joined{spec.suffix}"
    joined.write_bytes(first.read_bytes() + second.read_bytes())

    facts = normalize(joined, tmp_path / "out.mp3")

    # raw ADTS keeps each part's encoder priming (no edit list to trim it)
    assert facts.duration_s == pytest.approx(3.5, abs=0.1)
    rate, samples, crossings = decode_mono(tmp_path / "out.mp3")
    # each joined part brings its own codec priming, hence "about" the sum
    assert (rate, samples / rate) == (44100, pytest.approx(facts.duration_s, abs=0.1))
    assert crossings == pytest.approx(3500, rel=0.02)


def test_real_speech_keeps_its_length(tmp_path: Path) -> None:
    speech = write_speech(tmp_path / "speech.wav", "The quick brown fox jumps over the lazy dog, twice.")
    rate, samples, _ = decode_mono(speech)
    facts = normalize(speech, tmp_path / "speech.mp3")
    assert facts.duration_s == pytest.approx(samples / rate, abs=0.1)
    assert facts.duration_s > 1.0


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_sniff_by_content_not_name(fmt: str, tmp_path: Path) -> None:
    spec = FORMATS[fmt]
    misnamed = write_tone(tmp_path / "looks-like.txt", fmt, seconds=0.5)
    assert sniff(misnamed) == spec.name


def test_wav_named_mp3_sniffs_wav_and_normalises(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "song.mp3", "wav", seconds=1.0)
    assert sniff(src) == "wav"
    assert normalize(src, tmp_path / "out.mp3").source_format == "wav"


def test_text_named_mp3_is_not_audio(tmp_path: Path) -> None:
    src = text_file(tmp_path / "song.mp3")
    assert sniff(src) is None
    with pytest.raises(UnsupportedAudio) as err:
        normalize(src, tmp_path / "out.mp3")
    assert "not an audio file" in err.value.reason
    assert not (tmp_path / "out.mp3").exists()
    assert leftovers(tmp_path) == []


def test_empty_file_is_unsupported(tmp_path: Path) -> None:
    src = tmp_path / "empty.mp3"
    src.write_bytes(b"")
    assert sniff(src) is None
    with pytest.raises(UnsupportedAudio):
        normalize(src, tmp_path / "out.mp3")
    assert not (tmp_path / "out.mp3").exists()


@pytest.mark.parametrize(
    "head",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # a phone photo
        b"\xff\xfb\x90\x00" + b"\x01" * 600,  # one plausible MP3 header, then no second frame
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # JPEG also starts with 0xFF
        b"%PDF-1.7\n",
        b"",
    ],
    ids=["png", "heic", "lone-mpeg-header", "jpeg", "pdf", "empty"],
)
def test_sniff_rejects_lookalikes(head: bytes) -> None:
    assert sniff_bytes(head) is None


def test_sniff_reads_past_a_long_id3_tag(tmp_path: Path) -> None:
    mp3 = write_tone(tmp_path / "t.mp3", "mp3", seconds=0.5).read_bytes()
    adts = write_tone(tmp_path / "t.aac", "aac", seconds=0.5).read_bytes()
    pad = 40_000  # a tag longer than what sniff reads first, as with cover pictures
    size = bytes([(pad >> 21) & 0x7F, (pad >> 14) & 0x7F, (pad >> 7) & 0x7F, pad & 0x7F])
    tag = b"ID3\x04\x00\x00" + size + bytes(pad)
    (tmp_path / "tagged-aac").write_bytes(tag + adts)
    (tmp_path / "tagged-text").write_bytes(tag + b"hello, not audio" * 50)
    (tmp_path / "tagged-mp3").write_bytes(tag + mp3[mp3.index(b"\xff\xfb") :])
    assert sniff(tmp_path / "tagged-aac") == "aac"
    assert sniff(tmp_path / "tagged-mp3") == "mp3"
    assert sniff(tmp_path / "tagged-text") is None


def test_mpeg_frame_length_matches_the_standard() -> None:
    assert mpeg_frame_length(b"\xff\xfb\x90\x00") == 417  # MPEG-1 layer III 128 kbps 44.1 kHz
    assert mpeg_frame_length(b"\xff\xfb\x92\x00") == 418  # same, padded
    assert mpeg_frame_length(b"\xff\xf3\x90\x00") == 261  # MPEG-2 layer III 128 kbps 22.05 kHz
    assert mpeg_frame_length(b"\xff\xfb\xf0\x00") is None  # bitrate index 15 is invalid
    assert mpeg_frame_length(b"\xff\xfb\x9c\x00") is None  # sample-rate index 3 is reserved


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("keep", [0.6, 0.05])
def test_truncated_files_are_unreadable_and_leave_nothing(fmt: str, keep: float, tmp_path: Path) -> None:
    spec = FORMATS[fmt]
    whole = write_tone(tmp_path / f"whole{spec.suffix}", fmt, seconds=3.0)
    cut = truncate(whole, tmp_path / f"cut{spec.suffix}", keep=keep)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(UnreadableAudio) as err:
        normalize(cut, out_dir / "item.mp3")
    assert err.value.reason
    assert spec.name in err.value.reason
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("fmt", [f for f in ALL_FORMATS if f != "aac"])
def test_corrupt_files_are_unreadable_and_leave_nothing(fmt: str, tmp_path: Path) -> None:
    spec = FORMATS[fmt]
    whole = write_tone(tmp_path / f"whole{spec.suffix}", fmt, seconds=2.0)
    # past the headers (and, for MP3, the tag and first frames) the bytes are noise
    bad = corrupt(whole, tmp_path / f"bad{spec.suffix}", header_bytes=1000 if fmt == "mp3" else 64)
    assert sniff(bad) == spec.name  # still looks like audio: this is 422, not 415
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(UnreadableAudio) as err:
        normalize(bad, out_dir / "item.mp3")
    assert err.value.reason
    assert list(out_dir.iterdir()) == []


def test_noise_inside_an_adts_stream_is_unreadable(tmp_path: Path) -> None:
    """ADTS has no file header, so damage is put in the middle: frame headers
    stay valid at the start, the payload after them is noise."""
    good = write_tone(tmp_path / "good.aac", "aac", seconds=3.0).read_bytes()
    import random

    rng = random.Random(3)
    middle = bytes(rng.getrandbits(8) for _ in range(len(good) // 2))
    bad = tmp_path / "bad.aac"
    bad.write_bytes(good[:2000] + middle + good[2000 + len(middle) :])
    with pytest.raises(UnreadableAudio) as err:
        normalize(bad, tmp_path / "out.mp3")
    assert "aac" in err.value.reason
    assert not (tmp_path / "out.mp3").exists()


def test_failed_normalise_keeps_the_previous_file(tmp_path: Path) -> None:
    dst = tmp_path / "item.mp3"
    dst.write_bytes(b"previous version")
    with pytest.raises(UnreadableAudio):
        normalize(truncate(write_tone(tmp_path / "w.wav", "wav", seconds=2), tmp_path / "c.wav", keep=0.5), dst)
    assert dst.read_bytes() == b"previous version"
    assert leftovers(tmp_path) == []


def test_video_without_sound_is_unsupported(tmp_path: Path) -> None:
    src = write_video_only(tmp_path / "clip.mp4")
    assert sniff(src) == "m4a"
    with pytest.raises(UnsupportedAudio) as err:
        normalize(src, tmp_path / "out.mp3")
    assert "no audio" in err.value.reason
    assert not (tmp_path / "out.mp3").exists()


def test_duration_cap_from_the_header(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "long.wav", "wav", seconds=3.0)
    with pytest.raises(AudioTooLong) as err:
        normalize(src, tmp_path / "out.mp3", max_duration_s=2.0)
    assert "limit" in err.value.reason
    assert not (tmp_path / "out.mp3").exists()


def test_duration_cap_while_decoding_when_no_header_says(tmp_path: Path) -> None:
    """Raw ADTS states no length: the cap must stop the decoder itself."""
    src = write_tone(tmp_path / "long.aac", "aac", seconds=3.0)
    with pytest.raises(AudioTooLong):
        normalize(src, tmp_path / "out.mp3", max_duration_s=1.0)
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "out.mp3").exists()


def test_probe_reports_the_source_as_it_is(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "t.flac", "flac", seconds=2.0, channels=2)
    facts = probe(src)
    assert (facts.format, facts.sample_rate, facts.channels) == ("flac", 96000, 2)
    assert facts.duration_s == pytest.approx(2.0, abs=0.05)
    with pytest.raises(UnsupportedAudio):
        probe(text_file(tmp_path / "t.txt"))


def test_probe_of_a_normalised_item_agrees_with_normalise(tmp_path: Path) -> None:
    """Stored items carry no Info frame; their CBR length still reads exactly."""
    made = normalize(write_tone(tmp_path / "t.ogg", "ogg-vorbis", seconds=4.0), tmp_path / "item.mp3")
    facts = probe(tmp_path / "item.mp3")
    assert (facts.format, facts.sample_rate, facts.channels, facts.bitrate) == ("mp3", 44100, 2, 128000)
    assert facts.duration_s == pytest.approx(made.duration_s, abs=0.1)
    assert facts.size_bytes == made.size_bytes


def test_importing_the_module_does_not_import_av() -> None:
    code = "import sys, adapters.audio.transcode; print('av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_source_is_an_error_not_a_format_question(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        normalize(tmp_path / "gone.wav", tmp_path / "out.mp3")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- loudness

NOISE_AND_TONES = "{a}*sin(2*PI*440*t)+{n}*(2*random(0)-1)|{a}*sin(2*PI*660*t)+{n}*(2*random(1)-1)"
# Quiet noise with a loud 2 kHz burst every second: lifting it to -16 LUFS
# would put the bursts far over full scale, so the limiter must hold them.
QUIET_WITH_BURSTS = (
    "0.06*sin(2*PI*440*t)+0.01*(2*random(0)-1)+0.95*sin(2*PI*2000*t)*lt(mod(t,2),0.001)"
    "|0.06*sin(2*PI*660*t)+0.01*(2*random(1)-1)+0.95*sin(2*PI*2000*t)*lt(mod(t,2),0.001)"
)


def write_signal(path: Path, expr: str, seconds: float) -> Path:
    """A 44.1 kHz stereo 16-bit WAV of an `aevalsrc` expression (one per channel)."""
    import av

    with (
        av.open(f"aevalsrc='{expr}':s=44100:d={seconds}", format="lavfi") as src,
        av.open(str(path), "w", format="wav") as out,
    ):
        stream = out.add_stream("pcm_s16le", rate=44100, layout="stereo")
        for frame in src.decode(audio=0):
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def loudness_of(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of a file decoded with PyAV, measured
    by libavfilter's ebur128 with its 4x oversampled true peak."""
    import math
    from fractions import Fraction

    import av

    graph = av.filter.Graph()
    head = graph.add_abuffer(format="dbl", sample_rate=44100, layout="stereo", time_base=Fraction(1, 44100))
    meter = graph.add("ebur128", "metadata=1:peak=true")
    sink = graph.add("abuffersink")
    head.link_to(meter)
    meter.link_to(sink)
    graph.configure()
    meta: dict[str, str] = {}

    def drain() -> None:
        nonlocal meta
        while True:
            try:
                frame = graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            if "lavfi.r128.I" in frame.metadata:
                meta = dict(frame.metadata)

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="dbl", layout="stereo", rate=44100)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                out.pts = None
                graph.push(out)
                drain()
    graph.push(None)
    drain()
    return float(meta["lavfi.r128.I"]), 20 * math.log10(float(meta["lavfi.r128.true_peak"]))


@pytest.mark.parametrize("engine", ["lameenc", "pyav"])
def test_quiet_and_loud_files_end_at_one_listening_level(engine: str, tmp_path: Path) -> None:
    quiet = write_signal(tmp_path / "quiet.wav", NOISE_AND_TONES.format(a=0.04, n=0.004), 12)
    loud = write_signal(tmp_path / "loud.wav", NOISE_AND_TONES.format(a=0.6, n=0.06), 12)
    quiet_in, _ = loudness_of(quiet)
    loud_in, _ = loudness_of(loud)
    assert quiet_in < -28 and loud_in > -9, (quiet_in, loud_in)  # the premise: about 22 LU apart
    levels = []
    for src in (quiet, loud):
        facts = normalize(src, tmp_path / f"{src.stem}.mp3", engine=engine)
        lufs, peak = loudness_of(tmp_path / f"{src.stem}.mp3")
        assert lufs == pytest.approx(-16.0, abs=1.0)
        assert peak <= -1.0
        # What normalize reports agrees with the independent measurement (its
        # output figure is at the encoder's input; 128 kbps MP3 reads ~0.45 LU lower).
        assert facts.loudness_in_lufs == pytest.approx(quiet_in if src is quiet else loud_in, abs=0.3)
        assert facts.gain_db == pytest.approx(-16.0 - facts.loudness_in_lufs, abs=0.05)
        assert facts.loudness_lufs == pytest.approx(lufs, abs=0.75)
        levels.append(lufs)
    assert abs(levels[0] - levels[1]) <= 1.0


def test_peaks_a_gain_would_push_over_the_ceiling_are_limited(tmp_path: Path) -> None:
    src = write_signal(tmp_path / "bursts.wav", QUIET_WITH_BURSTS, 12)
    lufs_in, peak_in = loudness_of(src)
    assert peak_in - lufs_in > 16  # the gain to -16 LUFS would clip by several dB
    facts = normalize(src, tmp_path / "out.mp3")
    lufs, peak = loudness_of(tmp_path / "out.mp3")
    assert facts.gain_db is not None and facts.gain_db > 3
    assert peak <= -1.0
    assert lufs == pytest.approx(-16.0, abs=1.5)
    assert facts.loudness_lufs == pytest.approx(lufs, abs=0.75)
    assert facts.peak_dbfs is not None and facts.peak_dbfs <= -1.5


def test_gain_is_capped_for_very_quiet_input(tmp_path: Path) -> None:
    src = write_signal(tmp_path / "faint.wav", NOISE_AND_TONES.format(a=0.0006, n=0.0002), 8)
    lufs_in, _ = loudness_of(src)
    assert lufs_in < -45
    facts = normalize(src, tmp_path / "out.mp3")
    lufs, _ = loudness_of(tmp_path / "out.mp3")
    assert facts.gain_db == 20.0
    assert lufs == pytest.approx(lufs_in + 20, abs=1.0)


@pytest.mark.parametrize(("expr", "seconds"), [("0|0", 3.0), ("0.3*sin(2*PI*440*t)|0.3*sin(2*PI*440*t)", 0.2)])
def test_silence_and_very_short_input_get_no_gain(expr: str, seconds: float, tmp_path: Path) -> None:
    """Nothing above ebur128's gate: no integrated loudness, so no gain (not +inf)."""
    src = write_signal(tmp_path / "in.wav", expr, seconds)
    facts = normalize(src, tmp_path / "out.mp3")
    assert facts.duration_s == pytest.approx(seconds, abs=0.05)
    assert facts.loudness_in_lufs is None and facts.gain_db == 0.0
    _, _, crossings = decode_mono(tmp_path / "out.mp3")
    assert crossings == (0 if seconds > 1 else pytest.approx(2 * 88, abs=6))  # 0.2 s of 440 Hz, untouched


def test_without_loudness_the_level_is_kept(tmp_path: Path) -> None:
    src = write_signal(tmp_path / "quiet.wav", NOISE_AND_TONES.format(a=0.04, n=0.004), 8)
    facts = normalize(src, tmp_path / "out.mp3", loudness=False)
    assert facts.gain_db is None and facts.loudness_in_lufs is None
    assert loudness_of(tmp_path / "out.mp3")[0] == pytest.approx(loudness_of(src)[0], abs=0.5)


def test_the_gain_plan() -> None:
    from adapters.audio.loudness import Measured, Plan

    assert Plan.for_input(Measured(lufs=-23.0, peak_db=-12.0)) == Plan(7.0, limit=False)
    assert Plan.for_input(Measured(lufs=-23.0, peak_db=-8.0)) == Plan(7.0, limit=True)  # -1 dBFS after the gain
    assert Plan.for_input(Measured(lufs=-60.0, peak_db=-40.0)) == Plan(20.0, limit=False)  # at most +20 dB
    assert Plan.for_input(Measured(lufs=-6.0, peak_db=-0.1)) == Plan(-10.0, limit=False)
    assert Plan.for_input(Measured(lufs=None, peak_db=-float("inf"))) == Plan(0.0, limit=False)  # silence


def test_without_lameenc_the_encoder_is_pyavs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from adapters.audio import mp3_encoder

    monkeypatch.setitem(sys.modules, "lameenc", None)  # import lameenc now raises ImportError
    encoder = mp3_encoder.open_encoder(tmp_path / "x.mp3", 128_000)
    encoder.close()
    assert isinstance(encoder, mp3_encoder.PyAVEncoder)
    facts = normalize(write_tone(tmp_path / "t.wav", "wav", seconds=2.0), tmp_path / "out.mp3")
    assert facts.duration_s == pytest.approx(2.0, abs=0.05) and facts.gain_db is not None
