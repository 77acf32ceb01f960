"""Cover images read from their structure (`services.images`, issue 18 finding
11): real PNGs and JPEGs from FFmpeg's encoders (PyAV) are read with their
sizes; cut, garbled, oversized and foreign ones are refused with a reason."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from fractions import Fraction

import av
import pytest

from core.errors import Invalid, TooLarge, Unsupported
from services.images import MAX_SIDE, image_kind_and_size

ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def encoded(codec: str, pix_fmt: str, width: int, height: int) -> bytes:
    """One frame through FFmpeg's encoder: a whole PNG or JPEG file."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = width, height, pix_fmt, Fraction(1, 25)
    frame = av.VideoFrame(width, height, pix_fmt)
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, data: bytes | None = None, *, interlace: int = 0, colour: int = 2) -> bytes:
    """A PNG made here (8 bits per channel): `data` or, by default, every row of every
    pass counted pixel by pixel, so the size is not the reader's own arithmetic."""
    channels = {0: 1, 2: 3, 6: 4}[colour]
    if data is None:
        passes = ADAM7 if interlace else ((0, 0, 1, 1),)
        data = b""
        for x0, y0, dx, dy in passes:
            for _y in range(y0, height, dy):
                row = len(range(x0, width, dx))
                if row:
                    data += b"\x00" + bytes(row * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("pix_fmt", ["rgb24", "rgba", "gray", "gray16be", "rgb48be", "pal8", "monob"])
@pytest.mark.parametrize(("width", "height"), [(37, 21), (1, 1), (640, 1008)])
def test_real_pngs_are_read_with_their_size(pix_fmt: str, width: int, height: int) -> None:
    assert image_kind_and_size(encoded("png", pix_fmt, width, height)) == ("image/png", width, height)


@pytest.mark.parametrize("pix_fmt", ["yuvj420p", "yuvj422p", "yuvj444p"])
@pytest.mark.parametrize(("width", "height"), [(37, 21), (1, 1), (638, 1011)])
def test_real_jpegs_are_read_with_their_size(pix_fmt: str, width: int, height: int) -> None:
    assert image_kind_and_size(encoded("mjpeg", pix_fmt, width, height)) == ("image/jpeg", width, height)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (3, 5), (8, 8), (9, 17), (100, 3)])
def test_interlaced_pngs_are_read_too(width: int, height: int) -> None:
    assert image_kind_and_size(png(width, height, interlace=1)) == ("image/png", width, height)
    plain = png(width, height, colour=6)
    assert image_kind_and_size(plain) == ("image/png", width, height)


@pytest.mark.parametrize("codec", ["png", "mjpeg"])
def test_a_cut_image_is_refused(codec: str) -> None:
    whole = encoded(codec, "rgb24" if codec == "png" else "yuvj420p", 64, 48)
    for keep in (len(whole) - 1, len(whole) - 2, len(whole) // 2, 40, 12, 9):
        with pytest.raises(Invalid):
            image_kind_and_size(whole[:keep])


def test_garbled_images_are_refused_with_a_reason() -> None:
    real_png = encoded("png", "rgb24", 64, 48)
    flipped = bytearray(real_png)
    flipped[len(real_png) // 2] ^= 0x55
    cases = {
        "the first bytes of a PNG and zeros": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64),
        "a byte flipped": bytes(flipped),
        "data after its end": real_png + b"trailing",
        "too little image data": png(10, 10, bytes(11 * 5)),
        "too much image data": png(10, 10, bytes(31 * 20)),
        "interlaced, sized as if not": png(9, 9, bytes(9 * 28), interlace=1),
        "no IHDR first": b"\x89PNG\r\n\x1a\n" + chunk(b"IEND", b""),
        "a JPEG start and junk": b"\xff\xd8\xff" + b"junk" * 40,
        "a JPEG with no frame": b"\xff\xd8\xff\xd9",
    }
    for name, data in cases.items():
        with pytest.raises(Invalid) as refused:
            image_kind_and_size(data)
        assert str(refused.value).startswith("the "), name  # a reason in words


def test_dimensions_past_the_limit_are_refused_before_any_inflating() -> None:
    header = struct.pack(">IIBBBBB", MAX_SIDE + 1, 10, 8, 2, 0, 0, 0)
    wide = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    with pytest.raises(TooLarge, match=f"{MAX_SIDE + 1}x10"):
        image_kind_and_size(wide)
    jpeg = bytearray(encoded("mjpeg", "yuvj420p", 64, 48))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 7] = struct.pack(">H", 60_000)  # the frame's height
    with pytest.raises(TooLarge, match="64x60000"):
        image_kind_and_size(bytes(jpeg))
    jpeg[sof + 5 : sof + 7] = b"\x00\x00"
    with pytest.raises(Invalid, match="height"):
        image_kind_and_size(bytes(jpeg))
    with pytest.raises(Invalid, match="0x0"):
        image_kind_and_size(png(0, 0, b""))


def test_a_png_inflating_far_past_its_size_is_refused_without_holding_it() -> None:
    bomb = png(16, 16, bytes(200 * 1024 * 1024))  # 200 MB of zeros under a 16x16 header
    tracemalloc.start()
    try:
        with pytest.raises(Invalid, match="more image data"):
            image_kind_and_size(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak


@pytest.mark.parametrize("data", [b"", b"GIF89a" + bytes(50), b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"<svg/>"])
def test_other_kinds_are_unsupported(data: bytes) -> None:
    with pytest.raises(Unsupported):
        image_kind_and_size(data)
