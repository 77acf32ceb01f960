"""How record fields are kept as DynamoDB attributes: one codec per record type.

The attribute of a field has the field's name; its value is converted by the
field's kind: times as fixed-width UTC ISO text (`dynamo_table.iso`), id
tuples as lists, dicts as JSON text (a JSON round trip keeps `1.0` a float and
`2**53 + 1` exact, which DynamoDB numbers would not), numbers as numbers. The
repositories add only what is not a field: keys, index keys, `entity`, search
helpers and expiry attributes (docs/dynamodb.md).
"""

from __future__ import annotations

from datetime import datetime

from adapters.aws.dynamo_table import iso, parse_iso
from core.codec import JSON_TEXT, SCALARS, Conversion, RecordCodec, ids_tuple
from core.records import (
    AudioItem,
    Card,
    Job,
    PasswordFallback,
    PendingUpload,
    PlayerEvent,
    PlayerState,
    Playlist,
    Podcast,
    Routine,
    Run,
    Session,
    Story,
    YotoTokens,
)

CONVERSIONS: dict[type, Conversion] = {
    **SCALARS,
    datetime: Conversion(iso, parse_iso),
    tuple: Conversion(lambda ids: list(ids_tuple(ids)), tuple),
    dict: JSON_TEXT,
    list: JSON_TEXT,
}

AUDIO = RecordCodec(AudioItem, CONVERSIONS)
UPLOADS = RecordCodec(PendingUpload, CONVERSIONS)
PLAYLISTS = RecordCodec(Playlist, CONVERSIONS)
CARDS = RecordCodec(Card, CONVERSIONS)
TOKENS = RecordCodec(YotoTokens, CONVERSIONS)
PLAYER_STATES = RecordCodec(PlayerState, CONVERSIONS)
PLAYER_EVENTS = RecordCodec(PlayerEvent, CONVERSIONS)
SESSIONS = RecordCodec(Session, CONVERSIONS)
PODCASTS = RecordCodec(Podcast, CONVERSIONS)
ROUTINES = RecordCodec(Routine, CONVERSIONS)
STORIES = RecordCodec(Story, CONVERSIONS)
JOBS = RecordCodec(Job, CONVERSIONS)
RUNS = RecordCodec(Run, CONVERSIONS)
FALLBACKS = RecordCodec(PasswordFallback, CONVERSIONS)
