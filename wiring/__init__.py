"""The composition root: every service of one adapter set, each built once.

`root_for(adapters)` answers the same `Root` for the same adapter set, so a
process (one uvicorn, one Lambda container, the MQTT handler) shares one token
service, one icon catalogue, one command sender and one pool of workers. It
imports no web framework and nothing heavy until a member is first asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from datetime import datetime

    from core.ports import (
        AudioStorage,
        Identity,
        ListenerStarter,
        Records,
        RunQueue,
        SecretHasher,
        TextToSpeech,
        Transcoder,
    )
    from core.records import Run
    from core.settings import Settings
    from core.yoto.cloud import YotoCloud
    from core.yoto.uploads import AudioUploader
    from services import jobs
    from services.announcements import AnnouncementPorts
    from services.card_content import CardPorts
    from services.card_uploads import UploadPorts as CardUploadPorts
    from services.icons import IconCatalog
    from services.imports import ImportPorts
    from services.ingest import IngestPorts
    from services.library import LibraryPorts
    from services.listener_runner import InProcess, ListenerRunner
    from services.mcp_tools import ToolPorts
    from services.members import MemberLookup, Members
    from services.personal_tokens import TokenPorts
    from services.player_commands import Commands
    from services.player_settings import SettingsPorts
    from services.players import PlayerPorts
    from services.playlist_cards import PlaylistCards
    from services.playlists import Playlists
    from services.podcasts import PodcastPorts
    from services.routines import RoutinePorts
    from services.sessions import SignInPorts
    from services.signing import Keys
    from services.stories import StoryPorts
    from services.tts import TtsPorts
    from services.uploads import UploadPorts
    from services.users import Family
    from services.yoto_link import YotoLink
    from services.yoto_storage import YotoStoragePorts
    from services.yoto_tokens import YotoTokenService

__all__ = ["AdapterSet", "Root", "root_for"]

T = TypeVar("T")


class AdapterSet(Protocol):
    """What the root is built from (`adapters.Adapters`; tests may hand in memory ports)."""

    settings: Settings
    records: Records
    storage: AudioStorage
    tts: TextToSpeech
    identity: Identity
    yoto: YotoCloud
    run_queue: RunQueue
    hasher: SecretHasher
    listener_starter: ListenerStarter | None
    yoto_uploader: AudioUploader


class once(Generic[T]):
    """A member of the root built on its first use, once, under the root's lock
    (two requests asking together must not make two token services)."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, root: Any, owner: type | None = None) -> T:
        if root is None:
            return self  # type: ignore[return-value]
        built = root.__dict__
        if self._name not in built:
            with root._lock:
                if self._name not in built:
                    built[self._name] = self._build(root)
        return built[self._name]  # type: ignore[no-any-return]


class Root:
    """The services of one adapter set. Ports bundles and stateful collaborators
    (the debounce timers, the icon cache, the worker pool, the in-process
    listener's slot) are members; what is cheap and stateless is built per call."""

    def __init__(self, adapters: AdapterSet) -> None:
        self.adapters = adapters
        self.settings = adapters.settings
        self._lock = threading.RLock()

    @property
    def records(self) -> Records:
        return self.adapters.records

    # ------------------------------------------------------------------ signing and members

    @once
    def keys(self) -> Keys:
        """The signing keys, derived once from the session secret (`adapters.secret`)."""
        from adapters.secret import derive_key, session_secret
        from services.signing import Keys

        secret = session_secret(self.settings)
        return Keys(cookie=derive_key(secret, "cookie"), stream=derive_key(secret, "stream"))

    @once
    def members(self) -> Members:
        from services.members import Members

        return Members(self.records)

    @once
    def member_lookup(self) -> MemberLookup:
        from services.members import MemberLookup

        return MemberLookup(self.adapters.identity, self.members)

    @once
    def sign_in(self) -> SignInPorts:
        from services.login import LoginLimits
        from services.password_fallback import Fallbacks
        from services.sessions import SignInPorts

        adapters, records, settings = self.adapters, self.records, self.settings
        return SignInPorts(
            adapters.identity,
            records.counters,
            LoginLimits.of(settings),
            Fallbacks(records.fallbacks, adapters.hasher),
            records.sessions,
            self.members,
            self.keys.cookie,
            settings.session_max_age_s,
        )

    @once
    def personal_tokens(self) -> TokenPorts:
        """Personal access tokens, hashed with their own key derived from the session secret."""
        from adapters.secret import derive_key, session_secret
        from services.personal_tokens import TokenPorts

        key = derive_key(session_secret(self.settings), "personal-tokens")
        return TokenPorts(self.records.settings, self.adapters.identity, self.members, key)

    @once
    def mcp_tools(self) -> ToolPorts:
        """What the MCP server's tools use (`services.mcp_tools`)."""
        from services.mcp_tools import ToolPorts

        return ToolPorts(
            self.records.audio, self.cards, self.card_uploads, self.playlists, self.tts, self.players, self.commands
        )

    @once
    def family(self) -> Family:
        from services.users import Family

        return Family(self.adapters.identity, self.records, self.adapters.storage)

    @once
    def library(self) -> LibraryPorts:
        from services.library import LibraryPorts

        records = self.records
        return LibraryPorts(records.audio, records.playlists, records.cards, self.adapters.storage)

    # ------------------------------------------------------------------ audio coming in

    @once
    def transcoder(self) -> Transcoder:
        from adapters.audio.transcode import PyAVTranscoder

        return PyAVTranscoder()

    @once
    def ingest(self) -> IngestPorts:
        from services.ingest import IngestLimits, IngestPorts, scratch_base

        settings = self.settings
        limits = IngestLimits.of(settings)
        return IngestPorts(self.records.audio, self.adapters.storage, limits, self.transcoder, scratch_base(settings))

    @once
    def tts(self) -> TtsPorts:
        from services.tts import TtsLimits, TtsPorts

        return TtsPorts(self.adapters.tts, self.records.counters, TtsLimits.of(self.settings), self.ingest)

    @once
    def uploads(self) -> UploadPorts:
        from services.uploads import UploadPorts

        settings = self.settings
        return UploadPorts(
            self.records.uploads,
            self.records.counters,
            self.ingest,
            max_bytes=settings.max_upload_bytes,
            ttl_s=settings.upload_url_ttl_s,
        )

    @once
    def imports(self) -> ImportPorts:
        """Whole collections in (a ZIP, an audiobook by chapter), as `import` runs."""
        from adapters.audio.chapters import PyAVTagReader
        from services.imports import ImportLimits, ImportPorts

        records, settings = self.records, self.settings
        return ImportPorts(
            ingest=self.ingest,
            playlists=self.playlists,
            tags=PyAVTagReader(),
            runs=records.runs,
            queue=self.run_queue,
            users=self.member_lookup,
            limits=ImportLimits.of(settings),
            max_tracks=settings.max_card_tracks,
        )

    # ------------------------------------------------------------------ Yoto

    @once
    def tokens(self) -> YotoTokenService:
        """The one token service: at most one refresh in flight per account."""
        from services.yoto_tokens import YotoTokenService

        records = self.records
        return YotoTokenService(records.tokens, records.counters, self.adapters.yoto)

    @once
    def icons(self) -> IconCatalog:
        from services.icons import IconCatalog

        return IconCatalog(self.adapters.yoto)

    @once
    def link(self) -> YotoLink:
        from services.yoto_link import LinkRules, YotoLink

        records = self.records
        rules = LinkRules.of(self.settings)
        return YotoLink(self.adapters.yoto, self.tokens, records.tokens, records.settings, records.counters, rules)

    @once
    def yoto_media(self) -> YotoStoragePorts:
        """Uploads to Yoto's storage, at most YOTO_UPLOADS_AT_ONCE of the family's at a time
        across processes and Lambdas (a counted lease in the counters)."""
        from services.card_uploads import upload_gate
        from services.ingest import scratch_base
        from services.yoto_storage import YotoStoragePorts

        settings = self.settings
        at_once = max(1, settings.yoto_uploads_at_once)
        return YotoStoragePorts(
            storage=self.adapters.storage,
            uploader=self.adapters.yoto_uploader,
            settings=self.records.settings,
            tokens=self.tokens,
            scratch=scratch_base(settings) / "yoto-upload",
            gate=upload_gate(self.records.counters, settings),
            at_once=at_once,
            transcoder=self.transcoder,
            track_limit_s=settings.yoto_max_track_minutes * 60,
        )

    @once
    def cards(self) -> CardPorts:
        from services.card_content import CardPorts, CardRules, YotoAccess

        return CardPorts(
            audio=self.records.audio,
            cards=self.records.cards,
            users=self.member_lookup,
            yoto=YotoAccess(self.adapters.yoto, self.tokens, self.icons),
            stream_key=self.keys.stream,
            rules=CardRules.of(self.settings),
            media=self.yoto_media,
        )

    @once
    def card_uploads(self) -> CardUploadPorts:
        """Card writes that upload to Yoto's storage first, as `card-upload` runs."""
        from services.card_uploads import UploadPorts

        records = self.records
        return UploadPorts(self.cards, records.runs, self.run_queue, records.settings, self.member_lookup)

    @once
    def playlist_cards(self) -> PlaylistCards:
        """The cards that follow playlists, with this process's debounce timers."""
        from services.playlist_cards import PlaylistCards

        settings = self.settings
        return PlaylistCards(
            self.cards,
            self.records.playlists,
            self.records.counters,
            debounce_s=settings.card_sync_debounce_s,
            timer=settings.card_sync_timer_enabled,
        )

    @once
    def playlists(self) -> Playlists:
        from services.playlists import Playlists

        return Playlists(self.records.playlists, self.playlist_cards)

    @once
    def stories(self) -> StoryPorts:
        """Branching stories and their interactive cards, written as `story-card` runs behind uploads."""
        from services.stories import StoryPorts

        records = self.records
        return StoryPorts(
            stories=records.stories,
            cards=self.cards,
            runs=records.runs,
            queue=self.run_queue,
            settings=records.settings,
            users=self.member_lookup,
            tts=self.tts,
            library=self.library,
            max_scenes=self.settings.max_card_tracks,
        )

    # ------------------------------------------------------------------ players and MQTT

    @once
    def in_process(self) -> InProcess:
        """The slot of the listener `make run` runs in this process (its lifespan fills it)."""
        from services.listener_runner import InProcess

        return InProcess()

    @once
    def players(self) -> PlayerPorts:
        from services.players import PlayerPorts

        return PlayerPorts.over(self.records, self.tokens, self.adapters.yoto)

    @once
    def sender(self) -> Any:
        """The command sender: over the in-process listener's connection when it has the player."""
        from adapters.yoto.mqtt.sender import MqttSender
        from adapters.yoto.mqtt.transport import BrokerConfig

        return MqttSender(BrokerConfig.from_settings(self.settings), self.tokens, listener=self.in_process.current)

    @once
    def player_settings(self) -> SettingsPorts:
        from services.player_settings import SettingsPorts

        return SettingsPorts(self.players, self.adapters.yoto, self.records.counters, self.records.cards)

    @once
    def commands(self) -> Commands:
        from services import listener_health
        from services.player_commands import Commands

        heartbeat = self.records.settings
        return Commands(
            players=self.players,
            sender=self.sender,
            cloud=self.adapters.yoto,
            live=lambda: listener_health.is_live(heartbeat),
            timeout_s=self.settings.mqtt_command_timeout_s,
        )

    @once
    def announcements(self) -> AnnouncementPorts:
        """Announcements spoken on players, each put back where it was (`services.announcements`)."""
        from services.announcements import AnnouncementPorts

        records = self.records
        return AnnouncementPorts(
            players=self.players,
            commands=self.commands,
            tts=self.tts,
            cards=self.cards,
            library=self.library,
            runs=records.runs,
            queue=self.run_queue,
            settings=records.settings,
            counters=records.counters,
            users=self.member_lookup,
            starter=self.adapters.listener_starter,
        )

    def listener(self, *, cloud: YotoCloud | None = None, **options: Any) -> Any:
        """A new MQTT listener over the linked accounts (`adapters.yoto.mqtt.listener.Listener`);
        `options` are the listener's own (`relist_every_s`, `backoff`, ...). With `cloud`
        (a stand-in Yoto cloud in tests) it gets a token service and player ports of its own."""
        from adapters.yoto.mqtt.listener import Listener
        from adapters.yoto.mqtt.transport import BrokerConfig
        from services.bedtime import EndOfWatcher
        from services.players import PlayerPorts, player_ids
        from services.yoto_tokens import YotoTokenService

        settings = self.settings
        records = self.records
        tokens = self.tokens if cloud is None else YotoTokenService(records.tokens, records.counters, cloud)
        ports = self.players if cloud is None else PlayerPorts.over(records, tokens, cloud)

        def token_for(account: str, *, rejected: str | None = None) -> str:
            if rejected is not None:
                return tokens.renew_rejected(account, rejected)
            return tokens.access_token(account)

        options.setdefault("keep_events_s", settings.player_history_days * 24 * 3600)
        # A new link shows within 15 s (one records query per look; the REST device
        # lists behind players_for are re-fetched at most once a minute).
        options.setdefault("relist_every_s", RELIST_EVERY_S)
        listener = Listener(
            BrokerConfig.from_settings(settings),
            accounts=records.tokens.list_accounts,
            token_for=token_for,
            players_for=lambda account: player_ids(ports, account),
            players=records.players,
            **options,
        )
        # a sleep at the end of the track or chapter is carried out here (services.bedtime)
        timeout = settings.mqtt_command_timeout_s
        listener.add_watcher(EndOfWatcher(records.settings, lambda p, c: listener.send(p, c, timeout=timeout)))
        return listener

    def listener_runner(self, listener: Any | None = None, **options: Any) -> ListenerRunner:
        """The listener loop with its heartbeat (`mode`, `ends_at`, `idle_s`, ...) and the player
        rules (`tick_every_s`, and as a watcher of the listener), which pause over its own connection."""
        from services.listener_runner import ListenerRunner
        from services.player_rules import RULES_EVERY_S

        running = listener if listener is not None else self.listener()
        rules = self.rules_enforcer(lambda: running)
        options.setdefault("tick", rules.tick)
        options.setdefault("tick_every_s", RULES_EVERY_S)
        watchers = getattr(running, "add_watcher", None)  # a stand-in listener in a test may have none
        if watchers is not None:
            watchers(rules.watch)
        return ListenerRunner(running, self.records.settings, **options)

    def rules_enforcer(self, listener: Callable[[], Any] = lambda: None) -> Any:
        """The player rules' enforcement (`services.player_rules.Enforcer`), sending over `listener`'s connection."""
        from adapters.yoto.mqtt.sender import MqttSender
        from adapters.yoto.mqtt.transport import BrokerConfig
        from services.player_rules import Enforcer, RulePorts

        settings = self.settings
        sender = MqttSender(BrokerConfig.from_settings(settings), self.tokens, listener=listener)
        return Enforcer(RulePorts(self.players, sender, settings.family_tz, settings.mqtt_command_timeout_s))

    # ------------------------------------------------------------------ scheduled work

    @once
    def podcasts(self) -> PodcastPorts:
        from adapters.web.fetch import SafeFetcher
        from services import podcasts
        from services.stream_cards import ServiceCardWriter

        settings = self.settings
        records = self.records
        return podcasts.PodcastPorts(
            podcasts=records.podcasts,
            jobs=records.jobs,
            runs=records.runs,
            playlists=records.playlists,
            cards=records.cards,
            ingest=self.ingest,
            fetch=SafeFetcher.checking(
                allow_private=settings.allow_private_feeds, max_redirects=settings.podcast_max_redirects
            ),
            writer=ServiceCardWriter(self.cards),
            queue=self.run_queue,
            rules=podcasts.PodcastRules.of(settings),
            tz=settings.family_tz,
        )

    @once
    def routines(self) -> RoutinePorts:
        from services import routines

        records = self.records
        settings = self.settings
        return routines.RoutinePorts(
            records.routines,
            records.jobs,
            records.runs,
            self.commands,
            settings.family_tz,
            counters=records.counters,
            queue=self.run_queue,
            users=self.member_lookup,
            rules=routines.RoutineRules(settings.routines_per_member, settings.player_commands_per_minute),
            config=self.adapters.yoto,
        )

    @once
    def workers(self) -> jobs.FairPool:
        """This process's workers (the API's jobs, the local tick's)."""
        return self.pool(per_member=self.settings.jobs_per_member, name="yss-job")

    @once
    def run_queue(self) -> RunQueue:
        """Where the API's jobs go: the adapters' queue, with this process's workers
        behind it where the queue is local (`LocalRunQueue`)."""
        from adapters.local.pool_queue import LocalRunQueue

        queue = self.adapters.run_queue
        if isinstance(queue, LocalRunQueue) and not queue.attached:
            pool = self.workers
            queue.attach(lambda run: self.enqueue(pool, run))
        return queue

    def pool(self, *, per_member: int | None, name: str) -> jobs.FairPool:
        """A pool of workers running this root's jobs: routines by due time, one run at
        a time per player; podcasts by owner in turn."""
        from services import jobs

        settings = self.settings
        runs = self.records.runs
        return jobs.FairPool(
            self.execute,
            {
                "routine": jobs.Lane(settings.routine_workers, by_due=True),
                "podcast": jobs.Lane(settings.job_workers, by_due=False),
                "card-upload": jobs.Lane(max(1, settings.yoto_uploads_at_once), by_due=False),
                "story-card": jobs.Lane(max(1, settings.yoto_uploads_at_once), by_due=False),
                "announcement": jobs.Lane(1, by_due=False),
                "import": jobs.Lane(1, by_due=False),
            },
            per_member=per_member,
            interrupt=lambda run_id, detail: jobs.interrupt(runs, run_id, detail),
            name=name,
        )

    def enqueue(self, pool: jobs.FairPool, run: Run, due: datetime | None = None) -> bool:
        """Hand a run to `pool`; a scheduled one is never refused by the member's cap."""
        from services.routines import serial_key

        key = serial_key(self.records.routines, run)
        return pool.submit(run, key=key, due=due, capped=run.trigger != "schedule")

    def execute(self, run_id: str) -> Run:
        """Run one queued run to its end (a podcast refresh or a routine's steps)."""
        from services import announcements, card_uploads, imports, jobs, podcasts, routines, stories

        handlers: dict[str, jobs.Handler] = {
            "podcast": lambda run: podcasts.run_refresh(self.podcasts, run),
            "routine": lambda run: routines.run_steps(self.routines, run),
            card_uploads.KIND: lambda run: card_uploads.run_upload(self.card_uploads, run),
            stories.KIND: lambda run: stories.run_card(self.stories, run),
            announcements.KIND: lambda run: announcements.run_announcement(self.announcements, run),
            imports.KIND: lambda run: imports.run_import(self.imports, run),
        }
        return jobs.execute(self.records.runs, handlers, run_id)

    def stop_workers(self, grace_s: float = 3.0) -> list[str]:
        """The server stops: what is still waiting or running ends as a failed run saying so."""
        with self._lock:
            pool = self.__dict__.pop("workers", None)
        return pool.stop(grace_s) if pool is not None else []


RELIST_EVERY_S = 15.0

_lock = threading.Lock()
_roots: WeakKeyDictionary[Any, Root] = WeakKeyDictionary()


def root_for(adapters: AdapterSet) -> Root:
    """The root of `adapters`, made on first use (a new adapter set gets a new root)."""
    found = _roots.get(adapters)
    if found is None:
        with _lock:
            found = _roots.get(adapters)
            if found is None:
                found = _roots[adapters] = Root(adapters)
    return found
