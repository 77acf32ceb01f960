"""The public 16×16 icon set the fake cloud offers, and the PNGs it serves for them.

Yoto's real set has about 500 icons; this one has a few dozen with the kind
of titles and tags the real ones carry, enough for an icon scorer to find a
match or fall back. Media ids are 43 characters, as Yoto's are, and stable
across runs (derived from the title).
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from simulator.cloud.oauth import b64url

# (title, public tags)
PUBLIC_ICONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Cat", ("animals", "cat", "pet", "kitten")),
    ("Dog", ("animals", "dog", "pet", "puppy")),
    ("Lion", ("animals", "lion", "jungle", "safari")),
    ("Elephant", ("animals", "elephant", "safari")),
    ("Owl", ("animals", "owl", "bird", "night")),
    ("Fish", ("animals", "fish", "sea", "ocean")),
    ("Dinosaur", ("animals", "dinosaur", "dino", "t-rex")),
    ("Rabbit", ("animals", "rabbit", "bunny")),
    ("Bear", ("animals", "bear", "teddy")),
    ("Moon", ("moon", "night", "sleep", "bedtime", "space")),
    ("Star", ("star", "night", "sky", "space", "twinkle")),
    ("Sun", ("sun", "weather", "day", "morning", "summer")),
    ("Rain Cloud", ("rain", "weather", "cloud", "storm")),
    ("Snowflake", ("snow", "weather", "winter", "christmas")),
    ("Rainbow", ("rainbow", "weather", "colours")),
    ("Rocket", ("rocket", "space", "astronaut", "planet")),
    ("Planet", ("planet", "space", "saturn")),
    ("Car", ("car", "vehicle", "transport", "drive")),
    ("Train", ("train", "vehicle", "transport", "railway")),
    ("Bus", ("bus", "vehicle", "transport", "school")),
    ("Boat", ("boat", "sea", "sail", "pirate")),
    ("Aeroplane", ("plane", "aeroplane", "airplane", "flight", "travel")),
    ("Music Note", ("music", "song", "note", "sing")),
    ("Guitar", ("music", "guitar", "song", "band")),
    ("Drum", ("music", "drum", "rhythm")),
    ("Headphones", ("music", "listen", "audio", "podcast")),
    ("Microphone", ("music", "microphone", "sing", "radio", "podcast")),
    ("Book", ("book", "story", "read", "reading", "library")),
    ("Open Book", ("book", "story", "chapter", "fairy tale")),
    ("Castle", ("castle", "princess", "knight", "fairy tale")),
    ("Crown", ("crown", "king", "queen", "princess")),
    ("Dragon", ("dragon", "fantasy", "fairy tale")),
    ("Unicorn", ("unicorn", "fantasy", "magic")),
    ("Magic Wand", ("magic", "wizard", "spell")),
    ("Tree", ("tree", "forest", "nature", "woods")),
    ("Flower", ("flower", "garden", "nature", "spring")),
    ("Heart", ("heart", "love", "family")),
    ("House", ("house", "home", "family")),
    ("Bed", ("bed", "sleep", "bedtime", "night")),
    ("Toothbrush", ("toothbrush", "teeth", "bedtime", "routine")),
    ("Clock", ("clock", "time", "alarm", "routine")),
    ("Football", ("football", "sport", "ball", "game")),
    ("Pizza", ("pizza", "food", "dinner")),
    ("Apple", ("apple", "food", "fruit", "snack")),
    ("Birthday Cake", ("cake", "birthday", "party", "celebration")),
    ("Globe", ("globe", "world", "earth", "geography", "languages")),
    ("Lightbulb", ("idea", "lightbulb", "science", "learning")),
    ("Numbers", ("numbers", "maths", "counting", "learning")),
    ("Letters", ("letters", "alphabet", "abc", "learning", "phonics")),
    ("Speech Bubble", ("speech", "talk", "message", "voice")),
)


def media_id(title: str) -> str:
    """A 43-character id (base64url of a SHA-256), stable for a title."""
    return b64url(hashlib.sha256(f"yoto-sim-icon:{title}".encode()).digest())


def png_16x16(seed: str) -> bytes:
    """A small recognisable PNG: a coloured disc on a transparent background."""
    digest = hashlib.sha256(seed.encode()).digest()
    r, g, b = digest[0] | 0x40, digest[1] | 0x40, digest[2] | 0x40
    rows = bytearray()
    for y in range(16):
        rows.append(0)  # filter type: none
        for x in range(16):
            inside = (x - 7.5) ** 2 + (y - 7.5) ** 2 <= 49
            rows.extend((r, g, b, 255) if inside else (0, 0, 0, 0))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 16, 16, 8, 6, 0, 0, 0)  # 8-bit RGBA
    pixels = chunk(b"IDAT", zlib.compress(bytes(rows)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def public_icons(base_url: str) -> list[dict[str, object]]:
    return [
        {
            "mediaId": media_id(title),
            "displayIconId": media_id(title)[:24],
            "userId": "yoto",
            "title": title,
            "publicTags": list(tags),
            "public": True,
            "new": False,
            "url": f"{base_url}/media/displayIcons/png/{media_id(title)}.png",
            "createdAt": "2023-01-01T00:00:00.000Z",
        }
        for title, tags in PUBLIC_ICONS
    ]
