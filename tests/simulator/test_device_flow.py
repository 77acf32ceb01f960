"""The device-code grant: pending, slow_down, approval, expiry, denial."""

from __future__ import annotations

import httpx

from simulator.cloud import RunningCloud
from tests.simulator.flows import bearer
from tests.yoto_sim import TEST_DEVICE_INTERVAL_S

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def start(http: httpx.Client, client_id: str) -> dict[str, object]:
    answer = http.post(
        "/oauth/device/code",
        data={
            "client_id": client_id,
            "scope": "offline_access user:content:manage",
            "audience": "https://api.yotoplay.com",
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def poll(http: httpx.Client, client_id: str, device_code: object) -> httpx.Response:
    return http.post(
        "/oauth/token", data={"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": device_code}
    )


def test_pending_then_slow_down_then_approved(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    started = start(http, yoto_cloud.client_id)
    assert set(started) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert started["interval"] == TEST_DEVICE_INTERVAL_S
    assert started["verification_uri_complete"] == f"{started['verification_uri']}?user_code={started['user_code']}"
    code = started["device_code"]

    pending = poll(http, yoto_cloud.client_id, code)
    assert pending.status_code == 403
    assert pending.json()["error"] == "authorization_pending"
    too_fast = poll(http, yoto_cloud.client_id, code)
    assert too_fast.status_code == 403
    assert too_fast.json()["error"] == "slow_down"

    yoto_cloud.approve_device(str(started["user_code"]).lower())  # codes are case-insensitive
    yoto_cloud.advance(TEST_DEVICE_INTERVAL_S + 5)  # slow_down added 5 s to the interval
    answer = poll(http, yoto_cloud.client_id, code)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["refresh_token"]
    assert http.get("/device-v2/devices/mine", headers=bearer(tokens["access_token"])).status_code == 200
    yoto_cloud.advance(60)
    assert poll(http, yoto_cloud.client_id, code).json()["error"] == "invalid_grant"  # single use


def test_the_increased_interval_still_applies_after_slow_down(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code = start(http, yoto_cloud.client_id)["device_code"]
    poll(http, yoto_cloud.client_id, code)
    assert poll(http, yoto_cloud.client_id, code).json()["error"] == "slow_down"
    yoto_cloud.advance(TEST_DEVICE_INTERVAL_S + 1)  # more than the old interval, less than the new one
    assert poll(http, yoto_cloud.client_id, code).json()["error"] == "slow_down"


def test_visiting_verification_uri_complete_approves(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    started = start(http, yoto_cloud.client_id)
    page = http.get(str(started["verification_uri_complete"]))
    assert page.status_code == 200
    assert "Device connected" in page.text
    assert poll(http, yoto_cloud.client_id, started["device_code"]).status_code == 200
    form = http.get(str(started["verification_uri"]))
    assert form.status_code == 200
    assert "user_code" in form.text
    second = start(http, yoto_cloud.client_id)
    posted = http.post(str(second["verification_uri"]), data={"user_code": second["user_code"]})
    assert "Device connected" in posted.text


def test_expired_device_code(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    started = start(http, yoto_cloud.client_id)
    assert started["expires_in"] == 600
    yoto_cloud.advance(601)
    expired = poll(http, yoto_cloud.client_id, started["device_code"])
    assert expired.status_code == 403
    assert expired.json()["error"] == "expired_token"
    late = http.get(str(started["verification_uri_complete"]))
    assert late.status_code == 400


def test_denied_and_unknown_device_codes(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    started = start(http, yoto_cloud.client_id)
    yoto_cloud.deny_device(str(started["user_code"]))
    assert poll(http, yoto_cloud.client_id, started["device_code"]).json()["error"] == "access_denied"
    assert poll(http, yoto_cloud.client_id, "made-up").json()["error"] == "invalid_grant"
    unknown_client = http.post("/oauth/device/code", data={"client_id": "nope"})
    assert unknown_client.status_code == 401
    assert unknown_client.json()["error"] == "invalid_client"


def test_approval_over_the_control_endpoint_and_json_requests(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    started = http.post(
        "/oauth/device/code", json={"client_id": yoto_cloud.client_id, "scope": "offline_access"}
    ).json()
    assert http.get("/_sim/device-codes").json()["user_codes"] == [started["user_code"]]
    approved = http.post("/_sim/device-codes/approve", json={"user_code": started["user_code"]})
    assert approved.status_code == 200
    again = http.post("/_sim/device-codes/approve", json={"user_code": started["user_code"]})
    assert again.status_code == 400
    body = {"grant_type": DEVICE_GRANT, "client_id": yoto_cloud.client_id, "device_code": started["device_code"]}
    assert http.post("/oauth/token", json=body).status_code == 200
