"""Injected faults: 429 with Retry-After, 5xx, slow answers, 401, dropped connections."""

from __future__ import annotations

import time

import httpx
import pytest

from simulator.cloud import RunningCloud
from tests.simulator.flows import card_body


def test_rate_limit_matches_a_path_prefix(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.rate_limit_next(2, retry_after=3, path_prefix="/content")
    assert http.get("/device-v2/devices/mine", headers=auth).status_code == 200
    for _ in range(2):
        limited = http.get("/content/mine", headers=auth)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        assert limited.json()["message"]
    assert http.get("/content/mine", headers=auth).status_code == 200
    assert yoto_cloud.pending_faults() == []


def test_server_error_then_recovery_and_nothing_written(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    yoto_cloud.server_error_next(status=503, method="POST")
    assert http.get("/content/mine", headers=auth).status_code == 200  # GET does not match
    assert http.post("/content", json=card_body(), headers=auth).status_code == 503
    assert yoto_cloud.cards() == {}
    assert http.post("/content", json=card_body(), headers=auth).status_code == 200
    assert len(yoto_cloud.cards()) == 1


def test_slow_answer_times_a_client_out(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.slow_next(2, delay_s=0.3, path_prefix="/device-v2")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/device-v2/devices/mine", headers=auth, timeout=0.1)
    started = time.monotonic()
    patient = http.get("/device-v2/devices/mine", headers=auth, timeout=5)
    assert patient.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_unauthorized_despite_a_good_token(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.unauthorized_next()
    denied = http.get("/content/mine", headers=auth)
    assert denied.status_code == 401
    assert "invalid_token" in denied.headers["www-authenticate"]
    assert http.get("/content/mine", headers=auth).status_code == 200


def test_disconnect_drops_the_connection(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.disconnect_next(path_prefix="/content/mine")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/content/mine", headers=auth)
    assert http.get("/content/mine", headers=auth).status_code == 200


def test_faults_on_the_token_endpoint_are_oauth_shaped(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    tokens = yoto_cloud.issue_tokens()
    body = {"grant_type": "refresh_token", "client_id": yoto_cloud.client_id, "refresh_token": tokens["refresh_token"]}
    yoto_cloud.rate_limit_next(path_prefix="/oauth/token", retry_after=0.5)
    limited = http.post("/oauth/token", data=body)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "0.5"
    assert limited.json()["error"] == "too_many_requests"
    yoto_cloud.server_error_next(path_prefix="/oauth/")
    assert http.post("/oauth/token", data=body).json()["error"] == "server_error"
    # A faulted request never reached the token logic: the refresh token is still unused.
    assert http.post("/oauth/token", data=body).status_code == 200


def test_faults_are_logged_but_never_hit_control_paths(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    yoto_cloud.server_error_next(5)
    assert http.get("/_sim/health").status_code == 200
    assert http.get("/content/mine", headers=auth).status_code == 500
    assert [(r.method, r.path, r.status) for r in yoto_cloud.requests()] == [("GET", "/content/mine", 500)]
    yoto_cloud.clear_faults()
    assert http.get("/content/mine", headers=auth).status_code == 200


def test_bad_fault_definitions_are_refused(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    with pytest.raises(ValueError, match="fault kind"):
        yoto_cloud.fail_next("explode")
    with pytest.raises(ValueError, match="5xx"):
        yoto_cloud.server_error_next(status=404)
    assert http.post("/_sim/faults", json={"kind": "slow"}).status_code == 400
    assert http.post("/_sim/faults", json={"kind": "rate_limit", "colour": "red"}).status_code == 400
    assert yoto_cloud.pending_faults() == []


def test_a_fault_after_the_route_loses_the_answer_not_the_work(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    yoto_cloud.server_error_next(status=502, path_prefix="/content", method="POST", after=True)
    assert http.post("/content", json=card_body("First"), headers=auth).status_code == 502
    yoto_cloud.disconnect_next(path_prefix="/content", method="POST", after=True)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/content", json=card_body("Second"), headers=auth)
    yoto_cloud.slow_next(delay_s=0.5, path_prefix="/content", method="POST", after=True)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/content", json=card_body("Third"), headers=auth, timeout=0.2)
    # All three were stored, although no client heard so (the slow one at once, before its wait).
    assert sorted(c["title"] for c in yoto_cloud.cards().values()) == ["First", "Second", "Third"]
    time.sleep(0.5)
    assert [r.status for r in yoto_cloud.requests("POST", "/content")] == [502, 0, 200]


def test_a_refresh_answered_with_a_5xx_after_it_rotated_has_spent_the_token(
    yoto_cloud: RunningCloud, http: httpx.Client
) -> None:
    tokens = yoto_cloud.issue_tokens()
    body = {"grant_type": "refresh_token", "client_id": yoto_cloud.client_id, "refresh_token": tokens["refresh_token"]}
    yoto_cloud.server_error_next(path_prefix="/oauth/token", after=True)
    lost = http.post("/oauth/token", data=body)
    assert lost.status_code == 500 and lost.json()["error"] == "server_error"
    assert yoto_cloud.stats()["refreshes"] == 1
    again = http.post("/oauth/token", data=body)
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"
    assert yoto_cloud.stats()["reuse_detected"] == 1, "a resend after the lost answer kills the chain"


def test_only_server_errors_drops_and_hangs_come_after(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    for kind in ("rate_limit", "unauthorized"):
        with pytest.raises(ValueError, match="after the route"):
            yoto_cloud.fail_next(kind, after=True)
    assert http.post("/_sim/faults", json={"kind": "rate_limit", "after": True}).status_code == 400
    assert http.post("/_sim/faults", json={"kind": "disconnect", "after": True}).json()["fault"]["after"] is True
