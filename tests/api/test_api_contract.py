"""The API says what it does: one error body shape, true `Allow` headers,
strict request types, every refusal documented in the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.api.conftest import ADMIN, Api


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/audio", "GET, POST"),
        ("PUT", "/api/audio/abc", "GET, PATCH, DELETE"),
        ("PUT", "/s/abc.mp3", "GET, HEAD"),
        ("DELETE", "/api/users", "GET, POST"),
        ("POST", "/api/users/mum", "GET, PATCH, DELETE"),
    ],
)
def test_405_names_every_method_the_path_serves(api: Api, method: str, path: str, allow: str) -> None:
    r = api.login(ADMIN).request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.json() == {"detail": "Method Not Allowed"}


def test_validation_errors_say_what_in_words_and_never_echo_input(api: Api) -> None:
    secret = "hunter2-" * 20
    r = api.client().post("/api/auth/login", json={"username": "", "password": secret, "extra": 1})
    assert r.status_code == 422
    body = r.json()
    assert isinstance(body["detail"], str) and "username is empty" in body["detail"]
    assert {"loc", "msg", "type"} <= set(body["errors"][0])
    assert secret not in r.text
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])  # no "input", no "ctx"


def test_lax_types_are_refused(api: Api) -> None:
    admin = api.login(ADMIN)
    r = admin.post("/api/audio/uploads", json={"filename": "a.mp3", "size_bytes": False})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "size_bytes"]
    assert admin.post("/api/users", json={"username": "x", "password": "p" * 12, "is_admin": "yes"}).status_code == 422


def test_every_operation_documents_its_refusals_with_the_error_body(api: Api) -> None:
    doc = api.client().get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorOut"]["required"] == ["detail"]
    assert schemas["HTTPValidationError"]["properties"]["detail"] == {"type": "string", "title": "Detail"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path in ("/api/health",) or path.startswith("/api/storage/blob"):
                continue
            codes = {c for c in op["responses"] if c.startswith("4") or c.startswith("5")}
            assert codes, f"{method.upper()} {path} documents no refusal"
            for code in codes - {"422"}:
                content = op["responses"][code].get("content", {})
                assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}, (
                    method,
                    path,
                    code,
                )
