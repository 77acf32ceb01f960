"""Archives and audiobooks for the import tests, made on the spot: tiny tones zipped in
folders, an M4B with chapter atoms and an MP3 with ID3 CHAP frames (written by mutagen,
a writer independent of the reader under test), a zip-slip entry, and a ZIP bomb whose
deflate stream is one flushed megabyte of zeros repeated (a gigabyte in about a second)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from tests.audio_fixtures import write_tone


def with_tags(src: Path, dst: Path, *, title: str | None = None, chapters: Sequence[str] = ()) -> Path:
    """`src` remuxed into `dst` (same container) with a title tag and, for MP4, chapters
    splitting its length evenly, each named."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.audio[0]
        seconds = float(stream.duration * stream.time_base) if stream.duration else float(inp.duration or 0) / 1e6
        fmt = "ipod" if dst.suffix in (".m4a", ".m4b") else inp.format.name.split(",")[0]
        with av.open(str(dst), "w", format=fmt) as out:
            o = out.add_stream_from_template(stream)
            if title:
                out.metadata["title"] = title
            if chapters:
                step = int(seconds * 1000) // len(chapters)
                marks = [
                    {
                        "id": n + 1,
                        "start": n * step,
                        "end": (n + 1) * step,
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": name},
                    }
                    for n, name in enumerate(chapters)
                ]
                out.set_chapters(marks)
            for packet in inp.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = o
                out.mux(packet)
    return dst


def m4b_book(work: Path, title: str, chapters: Sequence[str], *, seconds_each: float = 0.5) -> Path:
    plain = write_tone(work / "plain-book.m4a", "m4a", seconds=seconds_each * len(chapters))
    return with_tags(plain, work / f"{title}.m4b", title=title, chapters=chapters)


def mp3_book(work: Path, title: str, chapters: Sequence[str], *, seconds_each: float = 0.5) -> Path:
    from mutagen.id3 import CHAP, CTOC, ID3, TIT2, CTOCFlags

    path = write_tone(work / f"{title}.mp3", "mp3", seconds=seconds_each * len(chapters))
    tags = ID3()
    tags.add(TIT2(encoding=3, text=[title]))
    step = int(seconds_each * 1000)
    ids = [f"ch{n}" for n in range(len(chapters))]
    for n, name in enumerate(chapters):
        tags.add(
            CHAP(
                element_id=ids[n],
                start_time=n * step,
                end_time=(n + 1) * step,
                start_offset=0xFFFFFFFF,
                end_offset=0xFFFFFFFF,
                sub_frames=[TIT2(encoding=3, text=[name])],
            )
        )
    tags.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids))
    tags.save(path)
    return path


def collection(work: Path, dest: Path, *, folders: Sequence[str], per_folder: int, loose: int = 0) -> Path:
    """A ZIP of one tiny MP3 repeated under `folders` (`per_folder` each) and `loose` at the top,
    all inside one top folder as a zipped folder is; file names numbered 1..n."""
    tone = write_tone(work / "tiny.mp3", "mp3", seconds=0.1).read_bytes()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for folder in folders:
            for n in range(1, per_folder + 1):
                zf.writestr(f"Collection/{folder}/Track {n}.mp3", tone)
        for n in range(1, loose + 1):
            zf.writestr(f"Collection/Loose {n}.mp3", tone)
    return dest


def bomb(dest: Path, *, megabytes: int = 1024, name: str = "silence.wav") -> Path:
    """A one-entry ZIP whose entry expands to `megabytes` MiB of zeros, headers honest."""
    mib = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    data = block * megabytes + b"\x03\x00"  # a final empty fixed-Huffman block
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(mib, crc)
    size = megabytes << 20
    raw = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0) + raw
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0, 0, 0, 0, 0, 0
        )
        + raw
    )
    offset = len(local) + len(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0)
    dest.write_bytes(local + data + central + end)
    return dest


def with_entry(src: Path, dest: Path, name: str, data: bytes = b"x") -> Path:
    """`src`'s entries and one more named `name` (written raw, as a hostile tool would)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dest, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # ZipInfo's constructor would tidy a hostile name
        new.writestr(info, data)
    return dest
