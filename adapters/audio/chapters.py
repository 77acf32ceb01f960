"""Tags and chapter marks of an audio file, read with PyAV (the `TagReader` port).

FFmpeg's demuxers expose M4B/M4A chapter atoms and MP3 ID3v2 CHAP frames (with
their TIT2 sub-frame as the title) alike as container chapters, so one reader
serves both; nothing is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.ports import AudioTags, Chapter

# Shorter marks than this are dropped (a zero-length chapter holds no audio).
MIN_CHAPTER_S = 0.05


def _text(meta: dict[str, Any], *names: str) -> str | None:
    for name in names:
        for key, value in meta.items():
            if key.lower() == name and isinstance(value, str) and value.strip():
                return value.strip()
    return None


class PyAVTagReader:
    def read(self, path: Path) -> AudioTags:
        import av

        try:
            with av.open(str(path), metadata_errors="replace") as container:
                meta = dict(container.metadata)
                raw = container.chapters()
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
            return AudioTags()
        chapters: list[Chapter] = []
        for mark in sorted(raw, key=lambda c: c["start"] * c["time_base"]):
            base = mark["time_base"]
            start, end = float(mark["start"] * base), float(mark["end"] * base)
            if end - start >= MIN_CHAPTER_S:
                chapters.append(Chapter(_text(mark.get("metadata") or {}, "title") or "", start, end))
        return AudioTags(title=_text(meta, "title"), album=_text(meta, "album"), chapters=tuple(chapters))
