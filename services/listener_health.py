"""The MQTT listener's heartbeat and the viewers that keep an on-demand listener up.

Whatever runs the listener (`python -m mqtt` in ECS, the on-demand Lambda, the
in-process thread of `make run`) writes a heartbeat record every
`HEARTBEAT_EVERY_S`: last broker contact, accounts, connected accounts, counts
and, for a listener that will stop by itself, when. `GET /api/health/mqtt`
and the container health check read it; it counts as live while younger than
`STALE_AFTER_S`. The API records when someone last looked at the players
(`viewer_seen`); an on-demand listener stops when nobody has for its idle time,
and the API starts one (`wake`) when a viewer appears and none is live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.errors import NotFound
from core.ports import CounterRepository, ListenerStarter, SettingsRepository
from core.records import utcnow

HEARTBEAT_KEY = "mqtt-heartbeat"
VIEWER_KEY = "mqtt-viewer"
HEARTBEAT_EVERY_S = 30
STALE_AFTER_S = 90
# An on-demand listener whose end is this close is replaced when viewers remain.
HANDOVER_S = 60
WAKE_LEASE_S = 30


@dataclass(frozen=True)
class Heartbeat:
    at: datetime
    mode: str
    last_contact: str | None
    accounts: list[str]
    connected_accounts: list[str]
    counts: dict[str, int]
    ends_at: datetime | None = None
    instance: str | None = None

    def age_s(self, now: datetime) -> float:
        return (now - self.at).total_seconds()

    def live(self, now: datetime) -> bool:
        return self.age_s(now) < STALE_AFTER_S and (self.ends_at is None or self.ends_at > now)


def write_heartbeat(
    settings: SettingsRepository,
    health: Mapping[str, Any],
    *,
    mode: str,
    ends_at: datetime | None = None,
    now: Callable[[], datetime] = utcnow,
    instance: str | None = None,
) -> None:
    """`health` is `adapters.yoto.mqtt.listener.Listener.health()`; `instance` names the writer."""
    settings.put(
        HEARTBEAT_KEY,
        {
            "at": now().isoformat(),
            "mode": mode,
            "last_contact": health.get("last_contact"),
            "accounts": list(health.get("accounts") or []),
            "connected_accounts": list(health.get("connected_accounts") or []),
            "counts": {str(k): int(v) for k, v in (health.get("counts") or {}).items()},
            "ends_at": ends_at.isoformat() if ends_at else None,
            "instance": instance,
        },
    )


def clear_heartbeat(settings: SettingsRepository, *, instance: str | None = None) -> None:
    """A listener that stops cleanly says so at once instead of going stale; with
    `instance`, only its own heartbeat (an on-demand successor may have taken over)."""
    if instance is not None:
        beat = read_heartbeat(settings)
        if beat is None or beat.instance != instance:
            return
    settings.delete(HEARTBEAT_KEY)


def read_heartbeat(settings: SettingsRepository) -> Heartbeat | None:
    try:
        body = settings.get(HEARTBEAT_KEY)
        return Heartbeat(
            at=datetime.fromisoformat(body["at"]),
            mode=str(body.get("mode") or "unknown"),
            last_contact=body.get("last_contact"),
            accounts=list(body.get("accounts") or []),
            connected_accounts=list(body.get("connected_accounts") or []),
            counts=dict(body.get("counts") or {}),
            ends_at=datetime.fromisoformat(body["ends_at"]) if body.get("ends_at") else None,
            instance=body.get("instance"),
        )
    except NotFound:
        return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def is_live(settings: SettingsRepository, now: datetime | None = None) -> bool:
    beat = read_heartbeat(settings)
    return beat is not None and beat.live(now or utcnow())


def health(settings: SettingsRepository, now: datetime | None = None) -> dict[str, Any]:
    """What `GET /api/health/mqtt` answers."""
    moment = now or utcnow()
    beat = read_heartbeat(settings)
    if beat is None:
        return {
            "status": "down",
            "live": False,
            "heartbeat_at": None,
            "age_s": None,
            "mode": None,
            "last_contact": None,
            "accounts": [],
            "connected_accounts": [],
            "counts": {},
            "ends_at": None,
        }
    live = beat.live(moment)
    connected = bool(beat.connected_accounts) or not beat.accounts
    return {
        "status": "ok" if live and connected else ("degraded" if live else "down"),
        "live": live,
        "heartbeat_at": beat.at.isoformat(),
        "age_s": round(beat.age_s(moment), 1),
        "mode": beat.mode,
        "last_contact": beat.last_contact,
        "accounts": beat.accounts,
        "connected_accounts": beat.connected_accounts,
        "counts": beat.counts,
        "ends_at": beat.ends_at.isoformat() if beat.ends_at else None,
    }


# --------------------------------------------------------------------------- viewers (on-demand mode)


def viewer_seen(settings: SettingsRepository, now: datetime | None = None) -> None:
    settings.put(VIEWER_KEY, {"at": (now or utcnow()).isoformat()})


def last_viewer(settings: SettingsRepository) -> datetime | None:
    try:
        return datetime.fromisoformat(settings.get(VIEWER_KEY)["at"])
    except (NotFound, KeyError, TypeError, ValueError):
        return None


def idle_for_s(settings: SettingsRepository, now: datetime | None = None) -> float | None:
    """Seconds since the last viewer; None when nobody ever looked."""
    seen = last_viewer(settings)
    return None if seen is None else ((now or utcnow()) - seen).total_seconds()


def wake(
    settings: SettingsRepository,
    counters: CounterRepository,
    starter: ListenerStarter | None,
    now: datetime | None = None,
) -> bool:
    """A viewer is here: note it, and start an on-demand listener unless one is
    live and not about to end. One start per `WAKE_LEASE_S` across every API
    instance (an atomic counter decides). True when this call started one."""
    moment = now or utcnow()
    viewer_seen(settings, moment)
    if starter is None:
        return False
    beat = read_heartbeat(settings)
    lasting = beat is not None and beat.live(moment)
    if lasting and (beat.ends_at is None or beat.ends_at - moment > timedelta(seconds=HANDOVER_S)):  # type: ignore[union-attr]
        return False
    if counters.add("mqtt-wake", 1, ttl_s=WAKE_LEASE_S) != 1:
        return False
    starter.start()
    return True
