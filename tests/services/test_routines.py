"""services.routines on the memory records and the in-process Yoto cloud: the schedule
claimed on a manual clock, the steps sent in order through the player commands use case
(a fake command sender for MQTT), what ends a run, the caps and whose routine is whose."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.records import Run, User
from core.yoto.results import CommandResult
from services import jobs, players, routines
from services.routines import RoutinePorts, RoutineRules
from tests.conftest import ManualClock
from tests.services.memory_root import linked_admin_root
from tests.services.test_player_commands import FakeSender, Listener, commands_of, kids_player, topic
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

TZ = ZoneInfo("Europe/London")
MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")
BEN = User("ben", id="ben")
PLAYER = "bedroom-1"
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BEDTIME = [
    {"action": "ambient", "hex": "#401a00"},
    {"action": "volume", "volume": 30},
    {"action": "play", "card_id": "c1"},
    {"action": "sleep_timer", "minutes": 30},
]
BEDTIME_TOPICS = [topic("ambients/set"), topic("volume/set"), topic("card/start"), topic("sleep-timer/set")]


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@dataclass
class HeldQueue:
    """The `RunQueue` port: `hold` keeps each run (a worker has it), otherwise the caller runs it."""

    hold: bool = False
    held: list[Run] = field(default_factory=list)

    def submit(self, run: Run) -> bool:
        if self.hold:
            self.held.append(run)
        return self.hold


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path) -> Root:
    root = linked_admin_root(cloud, tmp_path)
    for name in ("kid", "ben"):
        root.adapters.identity.create_user(name, "purple monkey dishwasher")
    cloud.add_device(PLAYER, "Bedroom")
    return root


@pytest.fixture
def queue() -> HeldQueue:
    return HeldQueue()


def ports_of(root: Root, sender: FakeSender, queue: HeldQueue, **rules: int) -> RoutinePorts:
    """`RoutinePorts` as `wiring.Root.routines` builds them, on `sender` and `queue`."""
    r = root.records
    return RoutinePorts(
        r.routines,
        r.jobs,
        r.runs,
        commands_of(root, sender, Listener()),
        TZ,
        counters=r.counters,
        queue=queue,
        users=root.member_lookup,
        rules=RoutineRules(**rules),
    )


@pytest.fixture
def ports(root: Root, sender: FakeSender, queue: HeldQueue) -> RoutinePorts:
    return ports_of(root, sender, queue)


def make(ports: RoutinePorts, who: User = MUM, **kw: Any) -> str:
    body: dict[str, Any] = {"name": "Bedtime", "player_id": PLAYER, "at": "19:30", "days": EVERY_DAY, "steps": BEDTIME}
    return routines.create(ports, who, **{**body, **kw}).id


def run(ports: RoutinePorts, routine_id: str, who: User = MUM) -> Run:
    done, queued = routines.run_now(ports, who, routine_id)
    assert queued is False and done.status not in jobs.ACTIVE
    return done


def outcomes(done: Run) -> list[tuple[str, str]]:
    return [(str(s["action"]), str(s["outcome"])) for s in done.results]


# --------------------------------------------------------------------------- at their time


def test_a_routine_runs_its_steps_in_order_at_its_time_and_once_per_slot(
    ports: RoutinePorts, sender: FakeSender
) -> None:
    routine_id = make(ports)
    due = ports.jobs.get(routine_id).next_run_at
    assert due is not None and due.astimezone(TZ).strftime("%H:%M") == "19:30"
    assert routines.next_run_at(ports, routine_id) == due
    clock = ManualClock(due - timedelta(seconds=1))
    assert jobs.claim_due(ports.jobs, ports.runs, TZ, clock.now()) == []
    clock.advance(1)
    claimed = jobs.claim_due(ports.jobs, ports.runs, TZ, clock.now())
    assert [(c.run.subject_id, c.run.trigger, c.due) for c in claimed] == [(routine_id, "schedule", due)]
    assert jobs.claim_due(ports.jobs, ports.runs, TZ, clock.now()) == []  # claimed once
    assert sender.sent == []  # claiming sends nothing: the workers do
    done = jobs.execute(ports.runs, {"routine": lambda r: routines.run_steps(ports, r)}, claimed[0].run.id)
    assert done.status == "ok" and done.detail is None
    assert sender.topics == BEDTIME_TOPICS
    assert [p.payload for p in sender.sent[:2]] == [b'{"r":64,"g":26,"b":0}', b'{"volume":30}']
    assert [s["step"] for s in done.results] == [1, 2, 3, 4]
    assert all(s["outcome"] == "ok" and s["via"] == "short-lived" for s in done.results)
    assert ports.jobs.get(routine_id).next_run_at == due + timedelta(days=1)
    assert routines.serial_key(ports.routines, done) == f"player:{PLAYER}"


def test_a_disabled_routine_is_never_claimed_until_it_is_enabled(ports: RoutinePorts, sender: FakeSender) -> None:
    routine_id = make(ports, enabled=False)
    assert ports.jobs.get(routine_id).next_run_at is None and routines.next_run_at(ports, routine_id) is None
    clock = ManualClock()
    clock.advance(8 * 24 * 3600)
    assert jobs.claim_due(ports.jobs, ports.runs, TZ, clock.now()) == []
    again = routines.replace_routine(
        ports, MUM, routine_id, name="Bedtime", player_id=PLAYER, at="07:15", days=["wed"], steps=BEDTIME
    )
    due = ports.jobs.get(routine_id).next_run_at
    assert again.enabled and due is not None and due.astimezone(TZ).strftime("%H:%M %a") == "07:15 Wed"
    assert [c.run.subject_id for c in jobs.claim_due(ports.jobs, ports.runs, TZ, clock.now())] == [routine_id]
    assert sender.sent == []


# --------------------------------------------------------------------------- what a step does to the run


def test_a_step_the_player_refuses_is_recorded_and_the_rest_still_run(ports: RoutinePorts, sender: FakeSender) -> None:
    sender.answers = {"volume/set": CommandResult("failed", "volume locked by a grown-up", 0.05)}
    done = run(ports, make(ports))
    assert outcomes(done) == [("ambient", "ok"), ("volume", "failed"), ("play", "ok"), ("sleep_timer", "ok")]
    assert done.results[1]["reason"] == "volume locked by a grown-up"
    assert done.status == "partial" and done.detail == "1 of 4 step(s) did not succeed"
    assert sender.topics == BEDTIME_TOPICS


def test_a_silent_player_ends_the_run_at_the_unanswered_step(ports: RoutinePorts, sender: FakeSender) -> None:
    sender.answers = {"volume/set": CommandResult("timeout", None, 2.0)}
    done = run(ports, make(ports))
    assert outcomes(done) == [("ambient", "ok"), ("volume", "timeout"), ("play", "skipped"), ("sleep_timer", "skipped")]
    assert done.status == "partial"
    assert str(done.detail).startswith("3 of 4 step(s) did not succeed; stopped at step 2: the player did not")
    assert all(str(s["reason"]).startswith("not sent: stopped at step 2") for s in done.results[2:])
    assert sender.topics == BEDTIME_TOPICS[:2]


def test_an_offline_or_unknown_player_ends_the_run_at_the_first_step_with_nothing_sent(
    ports: RoutinePorts, cloud: InProcessCloud, sender: FakeSender
) -> None:
    cloud.add_device("car-3", "Car", online=False)
    for player_id, why in [("car-3", "player 'Car' is offline"), ("gone-4", "no linked Yoto account has a player")]:
        done = run(ports, make(ports, player_id=player_id, name=player_id))
        assert [o for _, o in outcomes(done)] == ["failed", "skipped", "skipped", "skipped"]
        assert str(done.results[0]["reason"]).startswith(why) and done.status == "failed"
        assert done.detail is not None and done.detail.startswith("4 of 4 step(s) did not succeed; stopped at step 1")
    assert sender.sent == []


def test_the_players_commands_a_minute_cap_skips_the_rest_until_the_minute_is_over(
    root: Root, cloud: InProcessCloud, sender: FakeSender, queue: HeldQueue
) -> None:
    ports = ports_of(root, sender, queue, commands_per_minute=6)
    routine_id = make(ports)
    assert run(ports, routine_id).status == "ok"
    second = run(ports, routine_id)
    assert [o for _, o in outcomes(second)] == ["ok", "ok", "skipped", "skipped"]
    assert "over 6 commands a minute to this player (PLAYER_COMMANDS_PER_MINUTE)" in str(second.results[2]["reason"])
    assert second.status == "partial" and "stopped at step 3" in str(second.detail)
    cloud.advance(61)  # the records' clock: the window is over
    assert run(ports, routine_id).status == "ok"
    assert sender.topics == BEDTIME_TOPICS + BEDTIME_TOPICS[:2] + BEDTIME_TOPICS


def test_a_second_run_while_one_waits_is_refused_naming_it(ports: RoutinePorts, queue: HeldQueue) -> None:
    routine_id = make(ports)
    queue.hold = True
    first, queued = routines.run_now(ports, MUM, routine_id)
    assert queued and queue.held == [first] and ports.runs.get(first.id).status == "queued"
    with pytest.raises(Conflict, match=f"this routine is queued already \\(run {first.id}\\)") as refused:
        routines.run_now(ports, MUM, routine_id)
    assert refused.value.extra == {"run_id": first.id}
    assert len(queue.held) == 1


# --------------------------------------------------------------------------- steps, caps


def test_steps_are_checked_like_commands_and_nothing_is_saved(ports: RoutinePorts) -> None:
    for steps, why in [
        ([{"action": "stop"}, {"action": "volume", "volume": 101}], "step 2: volume must be 0–100"),
        ([{"action": "volume"}], "step 1: volume needs volume"),
        ([{"action": "next"}], "step 1: next depends on what is playing at that moment"),
        ([{"action": "ambient", "hex": "#fff", "r": 1}], "step 1: give either hex or r, g, b, not both"),
        ([{"volume": 3}], "step 1: a step is a command body with an action"),
        ([{"action": "launch"}], "step 1: unknown action 'launch'"),
        ([], "a routine has 1 to 20 steps"),
        ([{"action": "stop"}] * 21, "a routine has 1 to 20 steps"),
    ]:
        with pytest.raises(Invalid) as refused:
            make(ports, steps=steps)
        assert str(refused.value).startswith(why), (steps, str(refused.value))
    for bad in ({"at": "24:00"}, {"days": []}, {"days": ["someday"]}, {"name": "   "}):
        with pytest.raises(Invalid):
            make(ports, **bad)
    assert ports.routines.list(owner=None, limit=50, cursor=None).items == []
    assert list(jobs.all_jobs(ports.jobs)) == []


def test_routines_past_the_cap_are_refused_naming_it_per_member(
    root: Root, sender: FakeSender, queue: HeldQueue
) -> None:
    ports = ports_of(root, sender, queue, per_member=2)
    kept = [make(ports, name=f"R{n}") for n in range(2)]
    with pytest.raises(Conflict, match=r"at most 2 routines \(ROUTINES_PER_MEMBER\)") as refused:
        make(ports, name="one more")
    assert refused.value.extra == {"limit": 2}
    assert sorted(r.id for r in ports.routines.list(owner="mum", limit=50, cursor=None).items) == sorted(kept)
    assert make(ports, KID, name="the kid's own")  # the cap is per member
    routines.delete(ports, MUM, kept[0])
    assert make(ports, name="in its place")


def test_the_bedtime_template_needs_its_card(ports: RoutinePorts) -> None:
    with pytest.raises(Invalid, match="the bedtime template needs card_id"):
        routines.TEMPLATES["bedtime"].steps(None)
    steps = routines.TEMPLATES["bedtime"].steps("c1")
    assert steps == BEDTIME and routines.check_steps(steps) == BEDTIME


# --------------------------------------------------------------------------- whose routine


def test_a_member_sees_the_familys_routines_but_changes_only_their_own(ports: RoutinePorts, sender: FakeSender) -> None:
    mums = make(ports)
    assert routines.shown(ports, BEN, mums).owner == "mum"
    body: dict[str, Any] = {"name": "Mine now", "player_id": PLAYER, "at": "06:00", "days": ["sun"], "steps": BEDTIME}
    for attempt in (
        lambda: routines.replace_routine(ports, BEN, mums, **body),
        lambda: routines.delete(ports, BEN, mums),
        lambda: routines.run_now(ports, BEN, mums),
    ):
        with pytest.raises(Forbidden, match="only the owner or an admin may change this routine"):
            attempt()
    assert routines.get(ports, mums).name == "Bedtime" and sender.sent == []
    bens = make(ports, BEN, name="Ben's", steps=[{"action": "stop"}])
    assert run(ports, bens, who=MUM).status == "ok"  # an admin may run anyone's
    routines.delete(ports, MUM, bens)
    with pytest.raises(NotFound, match=f"no routine {bens}"):
        routines.get(ports, bens)
    assert list(ports.runs.recent(bens)) == [] and routines.next_run_at(ports, bens) is None
    assert sender.topics == [topic("card/stop")]


def test_a_routine_on_a_player_kept_for_another_member_is_hidden_and_its_steps_fail_as_unknown(
    root: Root, cloud: InProcessCloud, ports: RoutinePorts, sender: FakeSender
) -> None:
    kids_player(root, cloud)
    kids = make(ports, KID, player_id="kids-room", name="Kid's", steps=[{"action": "volume", "volume": 20}])
    bens = make(ports, BEN, player_id="kids-room", name="Ben's", steps=[{"action": "volume", "volume": 90}])
    players.set_private(ports.commands.players, "kids-room", True, who=MUM)
    with pytest.raises(NotFound, match=f"no routine {kids}"):
        routines.shown(ports, BEN, kids)
    with pytest.raises(NotFound, match=f"no routine {kids}"):
        routines.run_now(ports, BEN, kids)
    page = routines.list_routines(ports, BEN, mine=False, limit=50, cursor=None)
    assert [r.id for r in page.items] == [bens]
    failed = run(ports, bens, who=BEN)  # his own routine, with his rights: the player is unknown to him
    assert failed.status == "failed" and str(failed.results[0]["reason"]).startswith(
        "no linked Yoto account has a player 'kids-room'"
    )
    assert run(ports, kids, who=KID).status == "ok"
    assert {r.id for r in routines.list_routines(ports, MUM, mine=False, limit=50, cursor=None).items} == {kids, bens}
    assert [(p.account, p.topic, p.payload) for p in sender.sent] == [
        ("kid", topic("volume/set", "kids-room"), b'{"volume":20}')
    ]
