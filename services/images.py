"""What a cover image is, read from its structure rather than its first bytes.

A PNG is walked chunk by chunk (each CRC checked, IHDR first, IEND last) and
its image data inflated, counted in bounded steps, to exactly the size its
header implies; a JPEG segment by segment from SOI through its frame header
(SOF) and scans to EOI. No pixel is decoded and nothing beyond the standard
library is used; a truncated, garbled or oversized image is refused with why.
"""

from __future__ import annotations

import struct
import zlib

from core.errors import Invalid, TooLarge, Unsupported

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096  # pixels, either way
_STEP = 64 * 1024
# PNG colour type -> (channels, allowed bit depths)
_COLOUR = {0: (1, {1, 2, 4, 8, 16}), 2: (3, {8, 16}), 3: (1, {1, 2, 4, 8}), 4: (2, {8, 16}), 6: (4, {8, 16})}
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
# JPEG start-of-frame markers (C4 is DHT, C8 is reserved, CC is DAC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length


def image_kind_and_size(data: bytes, *, max_side: int = MAX_SIDE) -> tuple[str, int, int]:
    """(content type, width, height) of a whole, well-formed PNG or JPEG.
    `Unsupported` for anything else, `Invalid` for a broken one, `TooLarge`
    past `max_side` pixels either way."""
    if data.startswith(PNG_SIGNATURE):
        return ("image/png", *_png(data, max_side))
    if data.startswith(b"\xff\xd8"):
        return ("image/jpeg", *_jpeg(data, max_side))
    raise Unsupported("a cover must be a PNG or JPEG image")


def _fits(width: int, height: int, max_side: int, kind: str) -> None:
    if width <= 0 or height <= 0:
        raise Invalid(f"the {kind} says it is {width}x{height} pixels")
    if width > max_side or height > max_side:
        raise TooLarge(f"the {kind} is {width}x{height} pixels; at most {max_side} either way")


# --------------------------------------------------------------------------- PNG


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks = []
    at = len(PNG_SIGNATURE)
    while at < len(data):
        if at + 12 > len(data):
            raise Invalid("the PNG is cut short inside a chunk")
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        end = at + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(data):
            raise Invalid("the PNG is cut short inside a chunk")
        if not kind.isalpha():
            raise Invalid("the PNG has a chunk that is not one (garbled data)")
        body = data[at + 8 : end]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end : end + 4])[0]:
            raise Invalid(f"the PNG's {kind.decode()} chunk is damaged (its CRC does not match)")
        chunks.append((kind, body))
        at = end + 4
        if kind == b"IEND":
            break
    if at != len(data) or not chunks or chunks[-1][0] != b"IEND":
        raise Invalid("the PNG does not end where it should (cut short, or data after its end)")
    return chunks


def _png_data_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits_per_pixel + 7) // 8) if w and h else 0

    if not interlaced:
        return rows(width, height)
    passes = ((-(-(width - x) // dx) if width > x else 0, -(-(height - y) // dy) if height > y else 0)
              for x, y, dx, dy in _ADAM7)  # fmt: skip
    return sum(rows(w, h) for w, h in passes)


def _png(data: bytes, max_side: int) -> tuple[int, int]:
    chunks = _png_chunks(data)
    kind, header = chunks[0]
    if kind != b"IHDR" or len(header) != 13:
        raise Invalid("the PNG does not start with its header chunk (IHDR)")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", header)
    _fits(width, height, max_side, "PNG")
    if colour not in _COLOUR or depth not in _COLOUR[colour][1] or compression or filtering or interlace > 1:
        raise Invalid("the PNG's header names a pixel format that does not exist")
    kinds = [k for k, _ in chunks]
    runs = [i for i, k in enumerate(kinds) if k == b"IDAT"]
    if not runs:
        raise Invalid("the PNG has no image data")
    if runs != list(range(runs[0], runs[-1] + 1)):
        raise Invalid("the PNG's image data is not in one run of chunks")
    first = runs[0]
    if colour == 3 and b"PLTE" not in kinds[:first]:
        raise Invalid("the PNG uses a palette it does not have")
    expected = _png_data_size(width, height, _COLOUR[colour][0] * depth, interlace == 1)
    _inflates_to(b"".join(body for k, body in chunks if k == b"IDAT"), expected)
    return width, height


def _inflates_to(stream: bytes, expected: int) -> None:
    """`Invalid` unless `stream` inflates to exactly `expected` bytes (counted, never all held)."""
    inflater = zlib.decompressobj()
    got = 0
    try:
        pending = stream
        while not inflater.eof:
            out = inflater.decompress(pending, _STEP)
            got += len(out)
            if got > expected:
                raise Invalid("the PNG holds more image data than its size says")
            pending = inflater.unconsumed_tail
            if not pending and len(out) < _STEP:
                break
    except zlib.error:
        raise Invalid("the PNG's image data is damaged") from None
    if not inflater.eof or got != expected:
        raise Invalid("the PNG's image data is cut short")


# --------------------------------------------------------------------------- JPEG


def _after_scan(data: bytes, at: int) -> int:
    """Where the marker after entropy-coded data starting at `at` begins."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            raise Invalid("the JPEG is cut short inside its image data")
        following = data[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            at += 2  # a stuffed 0xFF or a restart marker: still image data
        elif following == 0xFF:
            at += 1  # fill byte before a marker
        else:
            return at


def _jpeg(data: bytes, max_side: int) -> tuple[int, int]:
    at = 2
    size: tuple[int, int] | None = None
    scanned = False
    while True:
        if at >= len(data) or data[at] != 0xFF:
            raise Invalid("the JPEG is cut short or garbled between its segments")
        while at < len(data) and data[at] == 0xFF:
            at += 1
        if at >= len(data):
            raise Invalid("the JPEG is cut short")
        marker = data[at]
        at += 1
        if marker == 0xD9:
            break
        if marker in _STANDALONE:
            continue
        if at + 2 > len(data):
            raise Invalid("the JPEG is cut short")
        (length,) = struct.unpack(">H", data[at : at + 2])
        if length < 2 or at + length > len(data):
            raise Invalid("the JPEG is cut short inside a segment")
        segment = data[at + 2 : at + length]
        at += length
        if marker in _SOF:
            if size is not None:
                raise Invalid("the JPEG has two frame headers")
            size = _frame_size(segment, max_side)
        elif marker == 0xDA:
            if size is None:
                raise Invalid("the JPEG's image data comes before its frame header")
            at = _after_scan(data, at)
            scanned = True
        elif marker == 0xD8:
            raise Invalid("the JPEG starts again inside itself")
    if size is None or not scanned:
        raise Invalid("the JPEG has no image data")
    return size


def _frame_size(segment: bytes, max_side: int) -> tuple[int, int]:
    if len(segment) < 6:
        raise Invalid("the JPEG's frame header is cut short")
    precision, height, width, components = struct.unpack(">BHHB", segment[:6])
    if height == 0:
        raise Invalid("the JPEG does not say its height in its frame header")
    _fits(width, height, max_side, "JPEG")
    if precision not in (8, 12, 16) or components not in (1, 2, 3, 4) or len(segment) != 6 + 3 * components:
        raise Invalid("the JPEG's frame header is garbled")
    return width, height
