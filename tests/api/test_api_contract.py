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
        # A concrete path is not an id of the templated path beside it (OpenAPI's matching order).
        ("GET", "/api/audio/uploads", "POST"),
        ("PATCH", "/api/audio/usage", "GET"),
        ("DELETE", "/api/audio/tts", "POST"),
        ("GET", "/api/audio/uploads/stream-url", "DELETE"),
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


def test_an_integral_number_is_an_integer_as_json_schema_says(api: Api) -> None:
    admin = api.login(ADMIN)
    r = admin.post("/api/audio/uploads", json={"filename": "a.mp3", "size_bytes": 1000.0})
    assert r.status_code == 201, r.text
    r = admin.post("/api/audio/uploads", json={"filename": "a.mp3", "size_bytes": 1000.5})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "size_bytes"]


def test_the_password_rule_is_declared_and_said_in_words(api: Api) -> None:
    doc = api.client().get("/api/openapi.json").json()
    password = doc["components"]["schemas"]["UserCreate"]["properties"]["password"]
    assert {"minLength", "maxLength", "pattern"} <= set(password)
    r = api.login(ADMIN).post("/api/users", json={"username": "newbie", "password": "twelve chars ok "})
    assert r.status_code == 422
    assert r.json()["detail"] == "password must not start or end with whitespace"


def test_a_body_that_cannot_be_parsed_is_refused_as_documented(api: Api) -> None:
    admin = api.login(ADMIN)
    json_body = {"Content-Type": "application/json"}
    r = admin.post("/api/users", content=b"\xff\xfe{", headers=json_body)  # not UTF-8 at all
    assert r.status_code == 400 and r.json() == {"detail": "There was an error parsing the body"}
    r = admin.post("/api/users", content=b"{not json", headers=json_body)
    assert r.status_code == 422 and r.json()["detail"] == "the request body is not valid JSON"
    doc = api.client().get("/api/openapi.json").json()
    assert {"400", "413", "422"} <= set(doc["paths"]["/api/users"]["post"]["responses"])


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
            # /mcp: the SDK's own refusals are JSON-RPC error objects, as the MCP spec has them; ours are ErrorOut.
            sdk = {"400", "406", "415"} if path == "/mcp" else set()
            assert sdk <= codes
            for code in codes - {"422"} - sdk:
                content = op["responses"][code].get("content", {})
                assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}, (
                    method,
                    path,
                    code,
                )
