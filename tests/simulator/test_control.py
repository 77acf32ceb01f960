"""The request log, the `/_sim/` control endpoints, and `python -m simulator` driven from outside."""

from __future__ import annotations

import os

import httpx

from simulator.cloud import RemoteCloud, RunningCloud
from tests.simulator.flows import bearer, card_body, link


def test_request_log_keeps_method_path_and_body(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    link(http, yoto_cloud.client_id)
    http.post("/content", json=card_body(title="Logged"), headers=auth)
    tokens = yoto_cloud.requests(method="post", path_prefix="/oauth/token")
    assert len(tokens) == 1
    assert tokens[0].form()["grant_type"] == "authorization_code"
    assert tokens[0].status == 200
    (content,) = yoto_cloud.requests(path_prefix="/content")
    assert content.json()["title"] == "Logged"
    assert content.headers["authorization"] == auth["Authorization"]
    assert [r.path for r in yoto_cloud.requests()][:1] == ["/authorize"]
    over_http = http.get("/_sim/requests", params={"path_prefix": "/content"}).json()["requests"]
    assert over_http[0]["method"] == "POST"
    assert '"Logged"' in over_http[0]["body"]
    yoto_cloud.clear_requests()
    assert yoto_cloud.requests() == []


def test_control_endpoints_over_http(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    assert http.get("/_sim/health").json()["client_id"] == yoto_cloud.client_id
    tokens = http.post("/_sim/tokens", json={}).json()
    auth = bearer(tokens["access_token"])

    added = http.post("/_sim/devices", json={"deviceId": "yoto-sim-ab-12", "name": "Den", "online": False})
    assert added.json()["device"]["deviceId"] == "yoto-sim-ab-12"
    status = http.put("/_sim/devices/yoto-sim-ab-12/status", json={"status": {"batteryLevel": 5}, "online": True})
    assert status.json()["status"]["batteryLevel"] == 5 and status.json()["online"] is True
    old_names = http.put("/_sim/devices/yoto-sim-ab-12/status", json={"status": {"isCharging": True}})
    assert old_names.status_code == 400 and "isCharging" in old_names.json()["message"]
    assert http.put("/_sim/devices/yoto-sim-ab-12/status", json={"forbidden": True}).status_code == 400
    assert http.get("/device-v2/yoto-sim-ab-12/status", headers=auth).status_code == 403
    assert http.get("/_sim/devices/yoto-sim-ab-12/status").json()["status"]["batteryLevel"] == 5
    config = http.get("/device-v2/yoto-sim-ab-12/config", headers=auth).json()["device"]
    assert config["status"]["batteryLevel"] == 5 and config["online"] is True
    assert http.get("/_sim/devices").json()["devices"][-1]["status"]["batteryLevel"] == 5
    assert http.delete("/_sim/devices/yoto-sim-ab-12").status_code == 200
    assert http.delete("/_sim/devices/yoto-sim-ab-12").status_code == 404

    fault = http.post("/_sim/faults", json={"kind": "rate_limit", "count": 1, "path_prefix": "/content"})
    assert fault.json()["fault"]["kind"] == "rate_limit"
    assert http.get("/_sim/faults").json()["faults"][0]["path_prefix"] == "/content"
    assert http.get("/content/mine", headers=auth).status_code == 429

    http.post("/content", json=card_body(), headers=auth)
    assert len(http.get("/_sim/cards").json()["cards"]) == 1

    assert http.patch("/_sim/config", json={"access_ttl_s": 5}).json()["access_ttl_s"] == 5
    assert http.patch("/_sim/config", json={"client_id": "x"}).status_code == 400
    assert http.post("/_sim/tokens/expire").json()["count"] >= 1
    assert http.get("/content/mine", headers=auth).status_code == 401
    info = http.post("/_sim/tokens/info", json={"token": tokens["refresh_token"]}).json()
    assert info["kind"] == "refresh"
    assert info["active"] is True
    assert http.post("/_sim/clock/advance", json={"seconds": -1}).status_code == 400
    assert http.get("/_sim/stats").json()["tokens_issued"] == 1

    assert http.post("/_sim/reset").status_code == 200
    assert http.get("/_sim/cards").json()["cards"] == {}
    assert http.get("/_sim/stats").json()["tokens_issued"] == 0
    assert http.get("/_sim/nothing").status_code == 404


def test_accounts_are_separate(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.login_as("grandparents")
    theirs = link(http, yoto_cloud.client_id)
    assert http.get("/device-v2/devices/mine", headers=bearer(theirs["access_token"])).json()["devices"] == []
    yoto_cloud.add_device("yoto-granny-01", "Granny's")
    devices = http.get("/device-v2/devices/mine", headers=bearer(theirs["access_token"])).json()["devices"]
    assert [d["deviceId"] for d in devices] == ["yoto-granny-01"]


def test_wrong_method_and_unknown_path(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    wrong = http.delete("/content/mine", headers=auth)
    assert wrong.status_code in (404, 405)
    put = http.put("/content", headers=auth)
    assert put.status_code == 405
    assert "POST" in put.headers["allow"]
    assert http.get("/nowhere", headers=auth).status_code == 404


def test_python_m_simulator_driven_from_another_process(yoto_cloud_process: RemoteCloud) -> None:
    cloud = yoto_cloud_process
    assert cloud.client_id == "yoto-sim-client"
    cloud.add_device("yoto-remote-77", "Remote", status={"batteryLevel": 40})
    assert cloud.set_device_status("yoto-remote-77", {"charging": 1}, online=False)["charging"] == 1
    assert cloud.device_status("yoto-remote-77")["batteryLevel"] == 40
    assert "sHOwL" in cloud.shop_cards()
    extra = {"cardId": "sHx01", "title": "Bought", "content": {"chapters": []}, "metadata": {}}
    assert cloud.add_shop_card(extra)["title"] == "Bought"
    tokens = cloud.issue_tokens()
    with httpx.Client(base_url=cloud.url, timeout=10, verify=False) as http:
        auth = bearer(tokens["access_token"])
        ids = [d["deviceId"] for d in http.get("/device-v2/devices/mine", headers=auth).json()["devices"]]
        assert "yoto-remote-77" in ids
        device = http.get("/device-v2/yoto-remote-77/config", headers=auth).json()["device"]
        assert (device["status"]["batteryLevel"], device["status"]["charging"], device["online"]) == (40, 1, False)
        assert http.get("/card/sHx01", headers=auth).json()["card"]["title"] == "Bought"
        cloud.server_error_next(path_prefix="/content", method="POST", after=True)
        assert http.post("/content", json=card_body("Lost answer"), headers=auth).status_code == 500
        assert [c["title"] for c in cloud.cards().values()] == ["Lost answer"]
        cloud.rate_limit_next(retry_after=2, path_prefix="/content")
        assert http.get("/content/mine", headers=auth).headers["retry-after"] == "2"
        assert http.post("/content", json=card_body(), headers=auth).status_code == 200
        started = http.post("/oauth/device/code", data={"client_id": cloud.client_id, "scope": "offline_access"})
        user_code = started.json()["user_code"]
        assert cloud.pending_user_codes() == [user_code]
        cloud.approve_device(user_code)
    assert len(cloud.cards()) == 2
    assert [r.status for r in cloud.requests(path_prefix="/content")] == [500, 429, 200]
    assert cloud.requests(path_prefix="/content")[2].json()["title"] == "Bedtime stories"
    assert cloud.remove_device("yoto-remote-77") is True
    assert cloud.remove_device("yoto-remote-77") is False
    cloud.advance(90_000)
    assert cloud.token_info(tokens["access_token"])["active"] is False


def test_env_fixture_points_the_service_at_the_cloud(yoto_cloud_env: RunningCloud) -> None:
    assert os.environ["YOTO_API_URL"] == yoto_cloud_env.url
    assert os.environ["YOTO_AUTH_URL"] == yoto_cloud_env.url
    assert os.environ["YOTO_CLIENT_ID"] == yoto_cloud_env.client_id
