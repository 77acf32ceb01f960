"""The API host's paths (YOTO_API_URL): players, config, content, shop cards, icons, covers, audio uploads.

Every route except the image downloads needs a live Bearer access token (the
presigned upload targets and signed media URLs are in `storage_routes.py`).
"""

from __future__ import annotations

from simulator.cloud.cards import validate_card
from simulator.cloud.http import HttpError, Request, Response, json_response
from simulator.cloud.icons import png_16x16
from simulator.cloud.router import Router
from simulator.cloud.state import Cloud
from simulator.cloud.storage_routes import playable, upload_target
from simulator.cloud.uploads import SHA256_HEX


def add_api_routes(router: Router, cloud: Cloud) -> None:
    def account(req: Request) -> str:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "Missing bearer token", {"WWW-Authenticate": 'Bearer realm="yoto"'})
        try:
            return cloud.tokens.account_for(token.strip())
        except PermissionError as exc:
            header = f'Bearer error="invalid_token", error_description="{exc}"'
            raise HttpError(401, str(exc), {"WWW-Authenticate": header}) from exc

    # ---- players

    def devices_mine(req: Request) -> Response:
        return json_response(200, {"devices": cloud.devices.mine(account(req))})

    def device_status(req: Request) -> Response:
        account(req)
        # The scope this needs (family:device-status:view) is refused to third-party apps.
        raise HttpError(403, "Insufficient scope: family:device-status:view is required")

    def get_config(req: Request) -> Response:
        return json_response(200, cloud.devices.read_config(req.params["device_id"], account(req)))

    def put_config(req: Request) -> Response:
        who = account(req)
        cloud.devices.write_config(req.params["device_id"], who, req.json_object())
        return json_response(200, {"status": "ok"})

    # ---- content

    def write_card(req: Request) -> Response:
        who = account(req)
        body = req.json_object()
        validate_card(body, cloud.config, cloud.known_icon, cloud.transcoded_info(who))
        return json_response(200, {"card": cloud.cards.write(body, who, cloud.clock.now())})

    def read_card(req: Request) -> Response:
        who = account(req)
        card = cloud.cards.read(req.params["card_id"], who, cloud.clock.now(), cloud.config.stale_read_s)
        if req.query.get("playable", "").lower() == "true":
            card = playable(cloud, card, who)
        return json_response(200, {"card": card})

    def any_card(req: Request) -> Response:
        """`/card/{id}`: a shop card the family owns, or one of its own (that part is a guess)."""
        who = account(req)
        card_id = req.params["card_id"]
        shop = cloud.shop.read(card_id, who)
        if shop is not None:
            return json_response(200, {"card": shop})
        card = cloud.cards.read(card_id, who, cloud.clock.now(), cloud.config.stale_read_s)
        return json_response(200, {"card": card})

    def my_cards(req: Request) -> Response:
        show_deleted = req.query.get("showdeleted", "").lower() == "true"
        return json_response(200, {"cards": cloud.cards.mine(account(req), show_deleted)})

    def delete_card(req: Request) -> Response:
        cloud.cards.delete(req.params["card_id"], account(req), cloud.clock.now())
        return json_response(200, {"status": "ok"})

    # ---- icons and covers

    def icons_public(req: Request) -> Response:
        account(req)
        return json_response(200, {"displayIcons": cloud.public_icons()})

    def icons_mine(req: Request) -> Response:
        who = account(req)
        icons = [_icon_body(cloud, u.media_id, who) for u in cloud.media.list("icon", who)]
        return json_response(200, {"displayIcons": icons})

    def upload_icon(req: Request) -> Response:
        who = account(req)
        data = _image_bytes(req)
        upload = cloud.media.put("icon", who, data, dict(req.query), cloud.config.max_icon_bytes)
        return json_response(200, {"displayIcon": _icon_body(cloud, upload.media_id, who)})

    def upload_cover(req: Request) -> Response:
        who = account(req)
        upload = cloud.media.put("cover", who, _image_bytes(req), dict(req.query), cloud.config.max_cover_bytes)
        url = f"{cloud.public_base}/media/coverImage/file/{upload.media_id}"
        return json_response(200, {"coverImage": {"mediaId": upload.media_id, "mediaUrl": url}})

    def upload_cover_legacy(req: Request) -> Response:
        who = account(req)
        found = req.first_file(("image",))
        if found is None:
            raise HttpError(400, "expected a multipart field named 'image'")
        upload = cloud.media.put("cover", who, found[0], dict(req.query), cloud.config.max_cover_bytes)
        return json_response(200, {"imageId": upload.media_id})

    def cover_file(req: Request) -> Response:
        upload = cloud.media.get(req.params["media_id"])
        if upload is None or upload.kind != "cover":
            raise HttpError(404, "No such image")
        return Response(200, upload.data, {"Content-Type": upload.content_type})

    def icon_file(req: Request) -> Response:
        name = req.params["file"].removesuffix(".png")
        upload = cloud.media.get(name)
        if upload is not None and upload.kind == "icon":
            return Response(200, upload.data, {"Content-Type": upload.content_type})
        if not cloud.known_icon(name):
            raise HttpError(404, "No such icon")
        return Response(200, png_16x16(name), {"Content-Type": "image/png", "Cache-Control": "max-age=86400"})

    # ---- audio uploads (yoto.dev, "Uploading content to MYO cards")

    def audio_upload_url(req: Request) -> Response:
        who = account(req)
        sha256 = req.query.get("sha256", "").strip().lower()
        if not SHA256_HEX.fullmatch(sha256):
            raise HttpError(400, "sha256 must be the 64 hex digits of the source file's SHA-256")
        now = cloud.clock.now()
        upload = cloud.audio.request(who, sha256, req.query.get("filename", ""), now, cloud.config.upload_url_ttl_s)
        return json_response(200, {"upload": {"uploadId": upload.upload_id, "uploadUrl": upload_target(cloud, upload)}})

    def transcoded(req: Request) -> Response:
        who = account(req)
        options = {k: v for k, v in req.query.items() if k in ("loudnorm", "preset")}
        status, body = cloud.audio.poll(req.params["upload_id"], who, options, cloud.clock.now())
        return json_response(status, body)

    router.add("GET", "/device-v2/devices/mine", devices_mine)
    router.add("GET", "/device-v2/{device_id}/status", device_status)
    router.add("GET", "/device-v2/{device_id}/config", get_config)
    router.add("PUT", "/device-v2/{device_id}/config", put_config)
    router.add("POST", "/content", write_card)
    router.add("GET", "/content/mine", my_cards)
    router.add("GET", "/content/{card_id}", read_card)
    router.add("DELETE", "/content/{card_id}", delete_card)
    router.add("GET", "/card/{card_id}", any_card)
    router.add("GET", "/media/displayIcons/user/yoto", icons_public)
    router.add("GET", "/media/displayIcons/user/me", icons_mine)
    router.add("POST", "/media/displayIcons/user/me/upload", upload_icon)
    router.add("GET", "/media/displayIcons/png/{file}", icon_file)
    router.add("POST", "/media/coverImage/user/me/upload", upload_cover)
    router.add("GET", "/media/coverImage/file/{media_id}", cover_file)
    router.add("POST", "/media/cover-image", upload_cover_legacy)
    router.add("GET", "/media/transcode/audio/uploadUrl", audio_upload_url)
    router.add("GET", "/media/upload/{upload_id}/transcoded", transcoded)


def _image_bytes(req: Request) -> bytes:
    """A raw image body, or the `image`/`file` part of a multipart one."""
    found = req.first_file(("image", "file"))
    if found is not None:
        return found[0]
    if req.content_type == "multipart/form-data":
        raise HttpError(400, "expected a multipart field named 'image' or 'file'")
    return req.body


def _icon_body(cloud: Cloud, media_id: str, account: str) -> dict[str, object]:
    return {
        "mediaId": media_id,
        "userId": f"auth0|{account}",
        "url": f"{cloud.public_base}/media/displayIcons/png/{media_id}.png",
        "new": True,
    }
