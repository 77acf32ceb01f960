"""Refresh-token rotation and reuse detection, and access-token expiry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from simulator.cloud import RunningCloud
from tests.simulator.flows import bearer, link, refresh


def shared_client(cloud: RunningCloud) -> httpx.Client:
    """One client with a connection per caller, so all 50 requests are in flight at once."""
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    return httpx.Client(base_url=cloud.url, timeout=10, limits=limits, verify=False)


def test_refresh_rotates_and_the_new_pair_works(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    first = link(http, yoto_cloud.client_id)
    answer = refresh(http, yoto_cloud.client_id, first["refresh_token"])
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = refresh(http, yoto_cloud.client_id, second["refresh_token"])
    assert third.status_code == 200
    assert http.get("/content/mine", headers=bearer(third.json()["access_token"])).status_code == 200
    # A rotated-away access token lives on until it expires, as Auth0's do.
    assert http.get("/content/mine", headers=bearer(first["access_token"])).status_code == 200
    assert yoto_cloud.stats()["refreshes"] == 2


def test_reused_refresh_token_revokes_the_whole_chain(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    first = link(http, yoto_cloud.client_id)
    second = refresh(http, yoto_cloud.client_id, first["refresh_token"]).json()
    third = refresh(http, yoto_cloud.client_id, second["refresh_token"]).json()
    other = link(http, yoto_cloud.client_id)  # another chain of the same account

    reuse = refresh(http, yoto_cloud.client_id, first["refresh_token"])
    assert reuse.status_code == 403
    assert reuse.json()["error"] == "invalid_grant"

    for access in (first["access_token"], second["access_token"], third["access_token"]):
        denied = http.get("/device-v2/devices/mine", headers=bearer(access))
        assert denied.status_code == 401
        assert denied.json()["message"] == "Token has been revoked"
    assert refresh(http, yoto_cloud.client_id, third["refresh_token"]).json()["error"] == "invalid_grant"
    assert yoto_cloud.token_info(third["refresh_token"])["revoke_reason"] == "refresh token reused"
    # Only the reused chain dies.
    assert http.get("/device-v2/devices/mine", headers=bearer(other["access_token"])).status_code == 200
    assert refresh(http, yoto_cloud.client_id, other["refresh_token"]).status_code == 200
    stats = yoto_cloud.stats()
    assert stats["reuse_detected"] == 1
    assert stats["chains_revoked"] == 1


def test_without_reuse_detection_a_reused_token_is_only_refused(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.configure(reuse_detection=False)
    first = link(http, yoto_cloud.client_id)
    second = refresh(http, yoto_cloud.client_id, first["refresh_token"]).json()
    assert refresh(http, yoto_cloud.client_id, first["refresh_token"]).status_code == 403
    assert refresh(http, yoto_cloud.client_id, second["refresh_token"]).status_code == 200


def test_without_rotation_the_refresh_token_stays(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.configure(rotate_refresh_tokens=False)
    first = link(http, yoto_cloud.client_id)
    for _ in range(3):
        answer = refresh(http, yoto_cloud.client_id, first["refresh_token"])
        assert answer.status_code == 200
        assert "refresh_token" not in answer.json()


def test_refresh_needs_the_right_client_and_a_known_token(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.configure()
    tokens = link(http, yoto_cloud.client_id)
    assert refresh(http, yoto_cloud.client_id, "not-a-token").json()["error"] == "invalid_grant"
    assert refresh(http, "other-client", tokens["refresh_token"]).status_code == 401


def test_access_tokens_expire_after_the_ttl(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.configure(access_ttl_s=30)
    tokens = link(http, yoto_cloud.client_id)
    assert tokens["expires_in"] == 30
    assert http.get("/content/mine", headers=bearer(tokens["access_token"])).status_code == 200
    yoto_cloud.advance(31)
    expired = http.get("/content/mine", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["message"] == "Token has expired"
    assert "invalid_token" in expired.headers["www-authenticate"]
    fresh = refresh(http, yoto_cloud.client_id, tokens["refresh_token"]).json()
    assert http.get("/content/mine", headers=bearer(fresh["access_token"])).status_code == 200


def test_missing_bad_and_revoked_bearer_tokens(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    assert http.get("/content/mine").status_code == 401
    assert http.get("/content/mine", headers={"Authorization": "Basic abc"}).status_code == 401
    assert http.get("/content/mine", headers=bearer("garbage")).json()["message"] == "Invalid token"
    token = yoto_cloud.issue_tokens()["access_token"]
    assert http.get("/content/mine", headers=bearer(token)).status_code == 200
    yoto_cloud.revoke_access_tokens()
    assert http.get("/content/mine", headers=bearer(token)).status_code == 401


def test_50_concurrent_refreshes_of_separate_chains_all_succeed(yoto_cloud: RunningCloud) -> None:
    chains = [yoto_cloud.issue_tokens() for _ in range(50)]
    with shared_client(yoto_cloud) as client, ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(
            pool.map(lambda t: refresh(client, yoto_cloud.client_id, t["refresh_token"]).status_code, chains)
        )
    assert statuses == [200] * 50
    assert yoto_cloud.stats()["reuse_detected"] == 0


def test_50_concurrent_refreshes_with_one_token_kill_its_chain(yoto_cloud: RunningCloud) -> None:
    """What a client without a single-flight refresh would cause: one winner, and the chain dies."""
    token = yoto_cloud.issue_tokens()["refresh_token"]
    with shared_client(yoto_cloud) as client, ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: refresh(client, yoto_cloud.client_id, token), range(50)))
    assert sorted(a.status_code for a in answers) == [200] + [403] * 49
    assert {a.json()["error"] for a in answers if a.status_code == 403} == {"invalid_grant"}
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert yoto_cloud.token_info(winner["access_token"])["active"] is False
    assert yoto_cloud.stats()["chains_alive"] == 0
