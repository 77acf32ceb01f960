"""Public icons, own icons and cover images."""

from __future__ import annotations

import httpx

from simulator.cloud import RunningCloud
from simulator.cloud.icons import png_16x16
from tests.simulator.flows import card_body

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def test_public_icon_set(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.get("/media/displayIcons/user/yoto").status_code == 401
    icons = http.get("/media/displayIcons/user/yoto", headers=auth).json()["displayIcons"]
    assert len(icons) >= 36
    assert all(len(i["mediaId"]) == 43 for i in icons)
    assert len({i["mediaId"] for i in icons}) == len(icons)
    tags = {t for i in icons for t in i["publicTags"]}
    assert {"animals", "moon", "star", "music", "book", "rocket", "car", "sun", "rain"} <= tags
    png = http.get(icons[0]["url"])
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert http.get("/media/displayIcons/png/unknown.png").status_code == 404


def test_cover_upload_raw_and_multipart(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    image = png_16x16("cover")
    raw = http.post(
        "/media/coverImage/user/me/upload",
        params={"autoconvert": "true", "coverType": "default"},
        content=image,
        headers=auth | {"Content-Type": "image/png"},
    )
    assert raw.status_code == 200, raw.text
    cover = raw.json()["coverImage"]
    assert set(cover) == {"mediaId", "mediaUrl"}
    fetched = http.get(cover["mediaUrl"])
    assert fetched.content == image
    assert fetched.headers["content-type"] == "image/png"

    multi = http.post("/media/coverImage/user/me/upload", files={"image": ("c.jpg", JPEG, "image/jpeg")}, headers=auth)
    assert multi.status_code == 200
    legacy = http.post("/media/cover-image", files={"image": ("c.jpg", JPEG, "image/jpeg")}, headers=auth)
    assert legacy.json()["imageId"] == multi.json()["coverImage"]["mediaId"]

    uploads = yoto_cloud.covers()
    assert [u["contentType"] for u in uploads] == ["image/png", "image/jpeg"]
    assert uploads[0]["params"] == {"autoconvert": "true", "coverType": "default"}

    card = card_body() | {"metadata": {"cover": {"imageL": cover["mediaUrl"]}}}
    assert http.post("/content", json=card, headers=auth).status_code == 200


def test_cover_upload_refuses_non_images_and_oversize(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    text = http.post("/media/coverImage/user/me/upload", content=b"<svg/>", headers=auth)
    assert text.status_code == 400
    assert "PNG or JPEG" in text.json()["message"]
    assert http.post("/media/coverImage/user/me/upload", content=b"", headers=auth).status_code == 400
    yoto_cloud.configure(max_cover_bytes=100)
    big = http.post("/media/coverImage/user/me/upload", content=JPEG + b"\x00" * 100, headers=auth)
    assert big.status_code == 413
    wrong_field = http.post("/media/cover-image", files={"file": ("c.jpg", JPEG, "image/jpeg")}, headers=auth)
    assert wrong_field.status_code == 400
    assert yoto_cloud.covers() == []


def test_own_icon_upload_is_usable_on_a_card(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    answer = http.post(
        "/media/displayIcons/user/me/upload",
        params={"autoConvert": "true", "filename": "dino.png"},
        content=png_16x16("dino"),
        headers=auth | {"Content-Type": "image/png"},
    )
    assert answer.status_code == 200, answer.text
    media_id = answer.json()["displayIcon"]["mediaId"]
    mine = http.get("/media/displayIcons/user/me", headers=auth).json()["displayIcons"]
    assert [i["mediaId"] for i in mine] == [media_id]
    assert http.get(mine[0]["url"]).content == png_16x16("dino")
    card = card_body(icon=media_id)
    assert http.post("/content", json=card, headers=auth).status_code == 200
