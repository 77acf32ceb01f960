"""The scheduler's entrypoints and their composition: which ports a podcast
refresh and a routine run get, one tick, one run, and the Lambda events.

Both sides run the same code (`services.jobs`): `make run`'s lifespan starts a
`LocalScheduler` thread over `tick`/`execute`; on AWS the minute-tick
EventBridge schedule invokes the worker function with `{"yss": "tick"}` and
the API hands long runs to it as `{"yss": "run", "run_id": ...}`
(`app.lambda_handler` routes both here; neither is an HTTP event).

Podcast cards are written through `services.cards` (`ServiceCardWriter`);
routine steps go out through the player commands' sender (`PlayerSender`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from adapters import Adapters
from core.records import Run, utcnow
from mqtt.payloads import Command
from services import jobs, podcasts, routines
from services.ingest import IngestLimits, scratch_base

log = logging.getLogger("yss.scheduled")


def yoto_access(adapters: Adapters) -> tuple[Any, Any]:
    """(the Yoto client, the process's one token service) of an adapter set."""
    from app.yoto_deps import yoto_services

    return adapters.yoto, yoto_services(adapters).tokens


class PlayerSender:
    """Routine steps go out as the player commands route sends them: the player's
    own linked account, over the listener's connection or a short-lived one."""

    def __init__(self, adapters: Adapters) -> None:
        self._adapters = adapters

    def send(self, player_id: str, command: Command) -> tuple[str, str | None, str]:
        from app.players_wiring import wiring
        from services import players

        wired = wiring(self._adapters)
        device = players.find_device(wired.ports, player_id)
        timeout = self._adapters.settings.mqtt_command_timeout_s
        result, via = wired.sender.send(device.account, player_id, command, timeout=timeout)
        return result.outcome, result.reason, via


def podcast_ports(adapters: Adapters) -> podcasts.PodcastPorts:
    from adapters.web.fetch import SafeFetcher
    from app.yoto_deps import yoto_services
    from services.stream_cards import ServiceCardWriter
    from services.url_safety import check_url

    settings = adapters.settings
    records = adapters.records
    allow = settings.allow_private_feeds
    writer = ServiceCardWriter(yoto_services(adapters).cards)
    return podcasts.PodcastPorts(
        podcasts=records.podcasts,
        jobs=records.jobs,
        runs=records.runs,
        audio=records.audio,
        playlists=records.playlists,
        cards=records.cards,
        storage=adapters.storage,
        limits=IngestLimits.of(settings),
        scratch=scratch_base(settings),
        fetch=SafeFetcher(
            lambda url: check_url(url, allow_private=allow), max_redirects=settings.podcast_max_redirects
        ),
        writer=writer,
        queue=adapters.run_queue,
        rules=podcasts.PodcastRules.of(settings),
        tz=settings.family_tz,
    )


def routine_ports(adapters: Adapters) -> routines.RoutinePorts:
    records = adapters.records
    return routines.RoutinePorts(
        records.routines, records.jobs, records.runs, PlayerSender(adapters), adapters.settings.family_tz
    )


def handlers(adapters: Adapters) -> dict[str, jobs.Handler]:
    return {
        "podcast": lambda run: podcasts.run_refresh(podcast_ports(adapters), run),
        "routine": lambda run: routines.run_steps(routine_ports(adapters), run),
    }


def tick(adapters: Adapters, now: datetime | None = None) -> list[Run]:
    records = adapters.records
    return jobs.claim_due(records.jobs, records.runs, adapters.settings.family_tz, now or utcnow())


def execute(adapters: Adapters, run_id: str) -> Run:
    return jobs.execute(adapters.records.runs, handlers(adapters), run_id)


def local_scheduler(adapters: Adapters, **options: Any) -> jobs.LocalScheduler:
    tick_s = options.pop("tick_s", adapters.settings.scheduler_tick_s)
    return jobs.LocalScheduler(
        lambda now: tick(adapters, now), lambda run_id: execute(adapters, run_id), tick_s=tick_s, **options
    )


def handle_event(adapters: Adapters, event: dict[str, Any]) -> dict[str, Any]:
    """A scheduled or queued invocation of the worker (not an HTTP event)."""
    kind = event.get("yss")
    if kind == "tick":
        started = tick(adapters)
        for run in started:  # routines first (claim_due's order); the worker has 15 minutes
            execute(adapters, run.id)
        return {"ran": [r.id for r in started]}
    if kind == "run" and isinstance(event.get("run_id"), str):
        done = execute(adapters, event["run_id"])
        return {"run": done.id, "status": done.status}
    raise ValueError(f"unknown scheduled event {kind!r}")
