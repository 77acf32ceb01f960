"""A run is read by the member whose work it is, or an admin: an import's file names, a
card upload's tracks or a routine's steps are not another member's to read."""

from __future__ import annotations

from core.records import Run
from tests.api.conftest import ADMIN, MEMBER, Api


def test_a_members_run_is_theirs_and_admins_but_missing_to_others(api: Api) -> None:
    kid = api.login(MEMBER)  # a member's records are owned under their username until they get a member id
    api.adapters.records.runs.add(Run(id="rkid", owner=MEMBER[0], subject_id="imp1", kind="import"))
    api.adapters.records.runs.add(Run(id="rmum", owner=ADMIN[0], subject_id="imp2", kind="import"))
    assert kid.get("/api/runs/rkid").status_code == 200
    other = kid.get("/api/runs/rmum")
    assert other.status_code == 404 and "no run rmum" in other.text
    assert api.login(ADMIN).get("/api/runs/rkid").status_code == 200
    assert kid.get("/api/runs/rnobody").status_code == 404


def test_a_family_podcasts_run_is_anyones_to_follow(api: Api) -> None:
    api.adapters.records.runs.add(Run(id="rpod", owner=ADMIN[0], subject_id="pod1", kind="podcast"))
    assert api.login(MEMBER).get("/api/runs/rpod").status_code == 200  # the family sees its podcasts
