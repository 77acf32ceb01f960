"""`/_sim/`: the test-control surface, so another process can drive a running simulator.

Never faulted and never recorded. Each endpoint maps onto one method of the
state the Python API (`RunningCloud`) uses as well.
"""

from __future__ import annotations

from typing import Any

from simulator.cloud.devices import Device
from simulator.cloud.faults import Fault
from simulator.cloud.http import HttpError, Request, Response, json_response
from simulator.cloud.router import Router
from simulator.cloud.state import Cloud
from simulator.cloud.storage_routes import card_for_player
from simulator.cloud.uploads import TranscodeFault

_FAULT_FIELDS = ("kind", "count", "path_prefix", "method", "status", "retry_after", "delay_s", "after")
_TRANSCODE_FAULT_FIELDS = ("kind", "count", "upload_id", "message")


def _built(kind: type[Any], fields: tuple[str, ...], body: dict[str, Any]) -> Any:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise HttpError(400, f"unknown fault fields: {', '.join(unknown)}")
    try:
        return kind(**body)
    except (TypeError, ValueError) as exc:
        raise HttpError(400, str(exc)) from exc


def _fault_from(body: dict[str, Any]) -> Fault:
    return _built(Fault, _FAULT_FIELDS, body)  # type: ignore[no-any-return]


def add_device_from(cloud: Cloud, body: dict[str, Any]) -> Device:
    device_id = body.get("deviceId")
    if not isinstance(device_id, str) or not device_id:
        raise HttpError(400, "deviceId is required")
    kind = str(body.get("deviceType", "v3"))
    device = Device(
        device_id,
        str(body.get("name") or device_id),
        account=str(body.get("account") or cloud.login_account),
        online=bool(body.get("online", True)),
        device_type=kind,
        device_family=str(body.get("deviceFamily", kind)),
        status=dict(body.get("status") or {}),
        status_at=cloud.clock.now(),
    )
    return cloud.devices.add(device)


def add_control_routes(router: Router, cloud: Cloud) -> None:
    def ok(**extra: Any) -> Response:
        return json_response(200, {"ok": True, **extra})

    def health(req: Request) -> Response:
        return ok(url=cloud.public_base, client_id=cloud.config.client_id)

    def get_requests(req: Request) -> Response:
        found = cloud.requests(req.query.get("method"), req.query.get("path_prefix"))
        return json_response(200, {"requests": [r.as_dict() for r in found]})

    def clear_requests(req: Request) -> Response:
        cloud.clear_requests()
        return ok()

    def get_cards(req: Request) -> Response:
        include_deleted = req.query.get("include_deleted", "").lower() == "true"
        return json_response(200, {"cards": cloud.cards.all(include_deleted)})

    def player_card(req: Request) -> Response:
        account = req.query.get("account", "")
        if not account:
            raise HttpError(400, "account is required: whose player reads the card")
        card = card_for_player(cloud, req.params["card_id"], account)
        if card is None:
            raise HttpError(404, f"account {account} has no card {req.params['card_id']}")
        return json_response(200, {"card": card})

    def get_faults(req: Request) -> Response:
        return json_response(200, {"faults": [f.as_dict() for f in cloud.faults.pending()]})

    def add_fault(req: Request) -> Response:
        return json_response(200, {"fault": cloud.faults.add(_fault_from(req.json_object())).as_dict()})

    def clear_faults(req: Request) -> Response:
        cloud.faults.clear()
        cloud.audio.clear_faults()
        return ok()

    def get_uploads(req: Request) -> Response:
        return json_response(200, {"uploads": cloud.audio.uploads(cloud.clock.now())})

    def get_transcodes(req: Request) -> Response:
        return json_response(200, {"transcodes": cloud.audio.transcodes(cloud.clock.now())})

    def get_transcode_faults(req: Request) -> Response:
        return json_response(200, {"faults": [f.as_dict() for f in cloud.audio.pending_faults()]})

    def add_transcode_fault(req: Request) -> Response:
        fault = _built(TranscodeFault, _TRANSCODE_FAULT_FIELDS, req.json_object())
        try:
            return json_response(200, {"fault": cloud.audio.add_fault(fault, cloud.clock.now()).as_dict()})
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc

    def clear_transcode_faults(req: Request) -> Response:
        cloud.audio.clear_faults()
        return ok()

    def list_devices(req: Request) -> Response:
        devices = [{**d.listing(), "account": d.account, "status": d.status_body()} for d in cloud.devices.all()]
        return json_response(200, {"devices": devices})

    def add_device(req: Request) -> Response:
        try:
            return json_response(200, {"device": add_device_from(cloud, req.json_object()).listing()})
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc

    def remove_device(req: Request) -> Response:
        if not cloud.devices.remove(req.params["device_id"]):
            raise HttpError(404, "no such device")
        return ok()

    def set_status(req: Request) -> Response:
        body = req.json_object()
        unknown = sorted(set(body) - {"status", "online"})
        if unknown:
            raise HttpError(400, f"expected {{status, online}}, not {', '.join(unknown)}")
        status = body.get("status") or {}
        if not isinstance(status, dict):
            raise HttpError(400, "status must be an object")
        try:
            device = cloud.devices.set_status(req.params["device_id"], status, body.get("online"), cloud.clock.now())
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        return json_response(200, {"status": device.status_body(), "online": device.online})

    def get_status(req: Request) -> Response:
        return json_response(200, {"status": cloud.devices.get(req.params["device_id"]).status_body()})

    def get_shop(req: Request) -> Response:
        return json_response(200, {"cards": cloud.shop.all()})

    def add_shop(req: Request) -> Response:
        body = req.json_object()
        card = body.get("card")
        if not isinstance(card, dict):
            raise HttpError(400, "card must be an object")
        try:
            added = cloud.shop.add(card, str(body.get("account") or cloud.login_account))
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        return json_response(200, {"card": added})

    def device_config(req: Request) -> Response:
        device = cloud.devices.get(req.params["device_id"])
        return json_response(200, {"config": device.config})

    def seed_config(req: Request) -> Response:
        return json_response(200, {"config": cloud.devices.seed_config(req.params["device_id"], req.json_object())})

    def add_alarm(req: Request) -> Response:
        alarm = req.json_object().get("alarm")
        return json_response(200, {"n": cloud.devices.add_alarm(req.params["device_id"], alarm)})

    def sync_player(req: Request) -> Response:
        body = req.json_object()
        playing, applied = body.get("playing"), body.get("applied", [])
        if not isinstance(playing, dict) or not isinstance(applied, list):
            raise HttpError(400, "expected {playing: object, applied: [press ids]}")
        return json_response(200, cloud.links.sync(req.params["device_id"], playing, applied))

    def press_button(req: Request) -> Response:
        button = req.json_object().get("button")
        return json_response(200, {"playing": cloud.links.press(req.params["device_id"], str(button))})

    def now_playing(req: Request) -> Response:
        return json_response(200, cloud.links.playing(req.params["device_id"]))

    def decide(approve: bool) -> Any:
        def handler(req: Request) -> Response:
            body = req.json_object()
            try:
                who = body.get("account") or cloud.login_account
                cloud.tokens.decide_device(str(body.get("user_code", "")), who, approve)
            except ValueError as exc:
                raise HttpError(400, str(exc)) from exc
            return ok()

        return handler

    def pending_codes(req: Request) -> Response:
        return json_response(200, {"user_codes": cloud.tokens.pending_user_codes()})

    def issue_tokens(req: Request) -> Response:
        body = req.json_object() if req.body else {}
        scope = body.get("scope")
        account = body.get("account") or cloud.login_account
        answer = cloud.tokens.issue_tokens(account, scope) if scope else cloud.tokens.issue_tokens(account)
        return json_response(200, answer)

    def expire_tokens(req: Request) -> Response:
        return ok(count=cloud.tokens.expire_access_tokens())

    def revoke_tokens(req: Request) -> Response:
        return ok(count=cloud.tokens.revoke_access_tokens())

    def token_info(req: Request) -> Response:
        info = cloud.tokens.token_info(str(req.json_object().get("token", "")))
        if info is None:
            raise HttpError(404, "unknown token")
        return json_response(200, info)

    def stats(req: Request) -> Response:
        return json_response(200, cloud.tokens.snapshot())

    def advance(req: Request) -> Response:
        seconds = req.json_object().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise HttpError(400, "seconds must be a non-negative number")
        return ok(now=cloud.clock.advance(float(seconds)))

    def login_as(req: Request) -> Response:
        account = req.json_object().get("account")
        if not isinstance(account, str) or not account:
            raise HttpError(400, "account is required")
        cloud.login_account = account
        return ok()

    def get_config(req: Request) -> Response:
        return json_response(200, cloud.config.snapshot())

    def patch_config(req: Request) -> Response:
        try:
            cloud.config.update(req.json_object())
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        return json_response(200, cloud.config.snapshot())

    def reset(req: Request) -> Response:
        cloud.reset()
        return ok()

    routes = (
        ("GET", "/_sim/health", health),
        ("POST", "/_sim/reset", reset),
        ("GET", "/_sim/requests", get_requests),
        ("DELETE", "/_sim/requests", clear_requests),
        ("GET", "/_sim/cards", get_cards),
        ("GET", "/_sim/player-cards/{card_id}", player_card),
        ("GET", "/_sim/faults", get_faults),
        ("POST", "/_sim/faults", add_fault),
        ("DELETE", "/_sim/faults", clear_faults),
        ("GET", "/_sim/uploads", get_uploads),
        ("GET", "/_sim/transcodes", get_transcodes),
        ("GET", "/_sim/transcode-faults", get_transcode_faults),
        ("POST", "/_sim/transcode-faults", add_transcode_fault),
        ("DELETE", "/_sim/transcode-faults", clear_transcode_faults),
        ("GET", "/_sim/devices", list_devices),
        ("POST", "/_sim/devices", add_device),
        ("DELETE", "/_sim/devices/{device_id}", remove_device),
        ("PUT", "/_sim/devices/{device_id}/status", set_status),
        ("GET", "/_sim/devices/{device_id}/status", get_status),
        ("GET", "/_sim/shop-cards", get_shop),
        ("POST", "/_sim/shop-cards", add_shop),
        ("GET", "/_sim/devices/{device_id}/config", device_config),
        ("PATCH", "/_sim/devices/{device_id}/config", seed_config),
        ("POST", "/_sim/devices/{device_id}/alarms", add_alarm),
        ("POST", "/_sim/devices/{device_id}/sync", sync_player),
        ("POST", "/_sim/devices/{device_id}/buttons", press_button),
        ("GET", "/_sim/devices/{device_id}/playing", now_playing),
        ("POST", "/_sim/device-codes/approve", decide(True)),
        ("POST", "/_sim/device-codes/deny", decide(False)),
        ("GET", "/_sim/device-codes", pending_codes),
        ("POST", "/_sim/tokens", issue_tokens),
        ("POST", "/_sim/tokens/expire", expire_tokens),
        ("POST", "/_sim/tokens/revoke", revoke_tokens),
        ("POST", "/_sim/tokens/info", token_info),
        ("GET", "/_sim/stats", stats),
        ("POST", "/_sim/clock/advance", advance),
        ("POST", "/_sim/login-as", login_as),
        ("GET", "/_sim/config", get_config),
        ("PATCH", "/_sim/config", patch_config),
    )
    for method, path, handler in routes:
        router.add(method, path, handler)
