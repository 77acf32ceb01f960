"""The `Records` port on one DynamoDB table (the AWS side of the records).

Each repository lives in a module named for what it stores; they share one
`Table`, whose boto3 client is created on first use and then reused (clients
are thread-safe). Layout and access patterns: docs/dynamodb.md.
"""

from __future__ import annotations

from adapters.aws.dynamo_accounts import DynamoCounters, DynamoFallbacks, DynamoSessions, DynamoSettings, DynamoTokens
from adapters.aws.dynamo_collections import DynamoCards, DynamoPlaylists
from adapters.aws.dynamo_library import DynamoAudio, DynamoUploads
from adapters.aws.dynamo_players import DynamoPlayers
from adapters.aws.dynamo_schedule import schedule_repositories
from adapters.aws.dynamo_table import Table
from core.settings import Settings


class DynamoRecords:
    """All repositories over the single table named by `settings.dynamodb_table`."""

    def __init__(self, settings: Settings) -> None:
        self.table = Table(settings)
        self.audio = DynamoAudio(self.table)
        self.uploads = DynamoUploads(self.table)
        self.playlists = DynamoPlaylists(self.table)
        self.cards = DynamoCards(self.table)
        self.tokens = DynamoTokens(self.table)
        self.players = DynamoPlayers(self.table)
        self.settings = DynamoSettings(self.table)
        self.sessions = DynamoSessions(self.table)
        self.counters = DynamoCounters(self.table)
        scheduled = schedule_repositories(self.table)
        self.podcasts = scheduled["podcasts"]
        self.routines = scheduled["routines"]
        self.stories = scheduled["stories"]
        self.jobs = scheduled["jobs"]
        self.runs = scheduled["runs"]
        self.fallbacks = DynamoFallbacks(self.table)
