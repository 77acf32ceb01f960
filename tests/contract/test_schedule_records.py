"""The records of scheduled work (podcasts, routines, jobs, runs) on every side:
[local] SQLite, [aws] DynamoDB on moto, [memory] the fake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from core.errors import AlreadyExists, NotFound, VersionConflict
from core.ports import Records
from core.records import Job, Podcast, Routine, Run, new_id
from tests.contract import test_records as base

# The records suite's fixtures: the same three sides, the same moto table.
T0 = base.T0
aws_settings, reopen, records = base.aws_settings, base.reopen, base.records


def podcast(owner: str = "anna", **kw: object) -> Podcast:
    return Podcast(
        id=new_id(), owner=owner, feed_url="https://feeds.example/kids.xml", title="Kids", created_at=T0, **kw
    )  # type: ignore[arg-type]


def test_podcast_round_trip_with_held_episodes(records: Records) -> None:
    held = [
        {"guid": "ep-2", "title": "Two", "audio_ids": ["a2", "a3"]},
        {"guid": "ep-1", "title": "Ünö", "audio_ids": ["a1"]},
    ]
    p = podcast(held=held, etag='"v1"', checked_at=T0, refresh_hours=0.5)
    records.podcasts.add(p)
    got = records.podcasts.get(p.id)
    assert got == p
    assert got.held[0]["audio_ids"] == ["a2", "a3"]
    with pytest.raises(AlreadyExists):
        records.podcasts.add(p)


def test_save_is_compare_and_swap_and_keeps_identity(records: Records) -> None:
    p = podcast()
    records.podcasts.add(p)
    saved = records.podcasts.save(replace(p, title="New", owner="mallory", status="ok"), expected_version=1)
    assert (saved.version, saved.title, saved.owner, saved.status) == (2, "New", "anna", "ok")
    assert saved.created_at == p.created_at and saved.updated_at > p.updated_at
    assert records.podcasts.get(p.id) == saved
    with pytest.raises(VersionConflict):
        records.podcasts.save(replace(p, title="Stale"), expected_version=1)
    assert records.podcasts.get(p.id).title == "New"
    with pytest.raises(NotFound):
        records.podcasts.save(podcast(), expected_version=1)


@pytest.mark.parametrize("kind", ["podcasts", "routines", "jobs"])
def test_give_passes_a_record_to_another_owner_by_compare_and_swap(records: Records, kind: str) -> None:
    repo = getattr(records, kind)
    record = {
        "podcasts": podcast(),
        "routines": Routine(id=new_id(), owner="anna", name="Bed", player_id="p1", at="19:00", created_at=T0),
        "jobs": Job(id=new_id(), owner="anna", kind="routine", at="19:00", days=("mon",), created_at=T0),
    }[kind]
    repo.add(record)
    given = repo.give(record.id, "mum", expected_version=1)
    assert (given.owner, given.version, given.created_at) == ("mum", 2, T0)
    assert replace(given, owner="anna", version=1, updated_at=record.updated_at) == record  # nothing else moved
    assert repo.get(record.id) == given
    assert [r.id for r in repo.list(owner="mum").items] == [record.id]
    assert repo.list(owner="anna").items == []
    with pytest.raises(VersionConflict):
        repo.give(record.id, "ben", expected_version=1)
    with pytest.raises(VersionConflict):  # a save from before the give loses too
        repo.save(replace(record, title="x") if kind == "podcasts" else record, expected_version=1)
    assert repo.get(record.id).owner == "mum"
    with pytest.raises(NotFound):
        repo.give(new_id(), "ben", expected_version=1)


def test_two_schedulers_claiming_one_due_job_one_wins(records: Records) -> None:
    """Both read the job at version 1; the second save loses. (Sequential on
    purpose: moto's DynamoDB is not atomic under threads, real DynamoDB is.)"""
    job = Job(id=new_id(), owner="anna", kind="routine", at="19:30", days=("mon",), next_run_at=T0)
    records.jobs.add(job)
    seen_a, seen_b = records.jobs.get(job.id), records.jobs.get(job.id)
    later = T0 + timedelta(days=7)
    records.jobs.save(replace(seen_a, next_run_at=later, last_run_id="run-a"), expected_version=seen_a.version)
    with pytest.raises(VersionConflict):
        records.jobs.save(replace(seen_b, next_run_at=later, last_run_id="run-b"), expected_version=seen_b.version)
    stored = records.jobs.get(job.id)
    assert (stored.last_run_id, stored.next_run_at, stored.version) == ("run-a", later, 2)


def test_lists_newest_first_by_owner_and_delete(records: Records) -> None:
    made = [
        Routine(
            id=new_id(),
            owner=o,
            name=f"r{i}",
            player_id="p1",
            at="19:00",
            days=("mon", "tue"),
            steps=[{"action": "volume", "volume": 30}],
            created_at=T0 + timedelta(seconds=i),
        )
        for i, o in enumerate(["anna", "ben", "anna"])
    ]
    for r in made:
        records.routines.add(r)
    assert [r.name for r in records.routines.list(owner="anna").items] == ["r2", "r0"]
    page = records.routines.list(limit=2)
    assert [r.name for r in page.items] == ["r2", "r1"]
    rest = records.routines.list(limit=2, cursor=page.next_cursor)
    assert [r.name for r in rest.items] == ["r0"] and rest.next_cursor is None
    assert records.routines.get(made[0].id).steps == [{"action": "volume", "volume": 30}]
    records.routines.delete(made[0].id)
    with pytest.raises(NotFound):
        records.routines.get(made[0].id)
    with pytest.raises(NotFound):
        records.routines.delete(made[0].id)


def test_runs_of_a_subject_newest_first(records: Records) -> None:
    for i in range(4):
        records.runs.add(
            Run(
                id=f"run{i}",
                owner="anna",
                subject_id="r1" if i != 2 else "r2",
                kind="routine",
                created_at=T0 + timedelta(minutes=i),
            )
        )
    assert [r.id for r in records.runs.recent("r1")] == ["run3", "run1", "run0"]
    assert [r.id for r in records.runs.recent("r1", limit=1)] == ["run3"]
    run = records.runs.get("run1")
    done = records.runs.save(
        replace(run, status="partial", results=[{"action": "volume", "outcome": "ok"}], finished_at=T0),
        expected_version=1,
    )
    assert records.runs.get("run1") == done and done.results[0]["outcome"] == "ok"
    records.runs.delete("run0")
    assert [r.id for r in records.runs.recent("r1")] == ["run3", "run1"]


def test_records_survive_reopening(reopen: Callable[[], Records]) -> None:
    """A job is in the store, not in a process: a restarted scheduler sees it."""
    first = reopen()
    job = Job(id=new_id(), owner="anna", kind="podcast", every_s=21600, next_run_at=T0)
    first.jobs.add(job)
    assert reopen().jobs.get(job.id) == job
