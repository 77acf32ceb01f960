"""HTTP hardening (issue 9, docs/security.md), against uvicorn started as
`make run` starts it (tests/uvicorn_server.py), over real sockets: the body
cap, validation errors that echo nothing, security headers, self-served
/api/docs, the origin secret and the client address the throttle counts by.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.http.client_address import client_address
from app.http.limits import STREAMING_UPLOADS, BodyLimitMiddleware, is_streaming_upload
from core.settings import Settings
from tests.uvicorn_server import Server, make_run_server, self_signed_cert, trusting

MB = 1024 * 1024
CAP = 64 * 1024  # the default MAX_BODY_KB
SECRET_PASSWORD = "correct-horse-SECRET-" + "p" * 2000  # over LoginIn's 1024, so it fails validation
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with make_run_server(tmp_path_factory.mktemp("hardening") / "data") as s:
        yield s


def _client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Origin": server.url}, timeout=20)


def _raw_post(
    server: Server, path: str, headers: dict[str, str], body: Iterable[bytes] = (), *, chunked: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """POST over a plain socket: the body is sent from a thread while the answer
    is read, so a server that answers early (and closes) is seen answering."""
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Origin: {server.url}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def send_body() -> None:
        try:
            for piece in body:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before taking it all: the point of the cap

    sender = threading.Thread(target=send_body)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        sock.close()
        sender.join(timeout=30)


def _login_json(password_len: int) -> bytes:
    return json.dumps({"username": "mum", "password": "p" * password_len}).encode()


def _pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def _warm_up(server: Server) -> None:
    """Load what a login touches (SQLite, argon2) before the peak RSS is read."""
    with _client(server) as c:
        for _ in range(2):
            c.post("/api/auth/login", json={"username": "nobody", "password": "wrong"})
            c.post("/api/auth/login", json={"username": "x"})


# --- 1. the body cap --------------------------------------------------------


def test_declared_oversize_body_is_refused_before_it_is_sent(server: Server) -> None:
    # Only the headers go out; a server that waited for the body would time out here.
    status, headers, data = _raw_post(
        server, "/api/auth/login", {"Content-Type": "application/json", "Content-Length": str(20 * MB)}
    )
    assert status == 413
    assert json.loads(data) == {
        "detail": f"request body too large: at most {CAP} bytes are accepted here (MAX_BODY_KB)"
    }
    assert headers["connection"] == "close"


def test_20_mb_json_login_is_refused_with_memory_bounded(server: Server) -> None:
    _warm_up(server)
    before = server.peak_rss_kib()
    body = _login_json(20 * MB)
    status, _, data = _raw_post(
        server, "/api/auth/login", {"Content-Type": "application/json", "Content-Length": str(len(body))}, _pieces(body)
    )
    grown_mib = (server.peak_rss_kib() - before) / 1024
    assert status == 413, data[:200]
    assert b"ppppp" not in data
    # Holding the body once would take 20 MiB; parsing and echoing it took >100 MiB.
    assert grown_mib < 8, f"peak RSS grew by {grown_mib:.1f} MiB"


def test_chunked_20_mb_body_is_cut_off_while_counting(server: Server) -> None:
    _warm_up(server)
    before = server.peak_rss_kib()
    status, _, data = _raw_post(
        server, "/api/auth/login", {"Content-Type": "application/json"}, _pieces(_login_json(20 * MB)), chunked=True
    )
    grown_mib = (server.peak_rss_kib() - before) / 1024
    assert status == 413, data[:200]
    assert json.loads(data)["detail"].startswith("request body too large")
    assert grown_mib < 8, f"peak RSS grew by {grown_mib:.1f} MiB"


def test_a_body_under_the_cap_reaches_the_route(server: Server) -> None:
    with _client(server) as c:
        r = c.post("/api/auth/login", content=_login_json(CAP - 100), headers={"Content-Type": "application/json"})
        assert r.status_code == 422  # parsed and validated (password too long), not refused by size
        r = c.post("/api/auth/login", content=_login_json(CAP + 100), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_streaming_uploads_are_exempt_and_the_rest_is_capped(server: Server) -> None:
    big = os.urandom(300 * 1024)
    with _client(server) as c:
        # The upload route checks the session before reading: 401 proves the cap let it through.
        r = c.post("/api/audio", files={"file": ("a.mp3", big, "audio/mpeg")})
        assert r.status_code == 401, r.text
        r = c.post("/api/storage/upload", files={"file": ("a.mp3", big, "audio/mpeg")})
        assert r.status_code == 403, r.text  # refused for its missing signature, not its size
        assert "not signed" in r.json()["detail"]
        r = c.post("/api/users", files={"file": ("a.mp3", big, "audio/mpeg")})
        assert r.status_code == 413
        assert r.json()["detail"].startswith("request body too large")


def test_the_exempt_table() -> None:
    assert {(m, p) for m, p, _ in STREAMING_UPLOADS} == {
        ("POST", "/api/audio"),
        ("POST", "/api/storage/upload"),
        ("PUT", "/api/cards/{card_id}/cover"),
        ("POST", "/api/stories/import"),
        ("POST", "/api/import-backup"),
        ("POST", "/api/imports"),
    }
    assert is_streaming_upload("POST", "/api/audio")
    assert is_streaming_upload("PUT", "/api/cards/c-123/cover")
    assert not is_streaming_upload("PUT", "/api/cards/a/b/cover")
    assert not is_streaming_upload("GET", "/api/audio")
    assert not is_streaming_upload("POST", "/api/audio/tts")
    assert not is_streaming_upload("POST", "/api/audio/uploads")
    assert not is_streaming_upload("POST", "/api/auth/login")


def test_form_bodies_are_capped_too() -> None:
    """The middleware on its own, over a form route: declared and chunked."""
    inner = FastAPI()

    @inner.post("/form")
    def form(text: str = Form()) -> dict[str, int]:
        return {"len": len(text)}

    app = BodyLimitMiddleware(inner, settings=lambda: Settings(max_body_kb=1))
    with TestClient(app) as c:
        assert c.post("/form", data={"text": "x" * 500}).json() == {"len": 500}
        assert c.post("/form", data={"text": "x" * 5000}).status_code == 413
        chunked = c.post(
            "/form",
            content=iter([b"text=", b"x" * 800, b"x" * 800]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert chunked.status_code == 413
        assert chunked.json()["detail"].startswith("request body too large: at most 1024 bytes")


# --- 2. validation errors echo nothing -------------------------------------


def _validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


def test_validation_errors_echo_no_input_and_match_the_document(server: Server) -> None:
    with _client(server) as c:
        doc = c.get("/api/openapi.json").json()
        bodies = [
            {"username": "mum", "password": SECRET_PASSWORD},
            {"username": "mum", "password": ["correct-horse-SECRET"]},
            {"username": "correct-horse-SECRET"},
        ]
        for body in bodies:
            r = c.post("/api/auth/login", json=body)
            assert r.status_code == 422
            assert "SECRET" not in r.text
            _validator(doc, "HTTPValidationError").validate(r.json())
            assert all(set(e) == {"loc", "msg", "type"} for e in r.json()["errors"])
        r = c.post(
            "/api/auth/login",
            content=b'{"password": "correct-horse-SECRET',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422 and "SECRET" not in r.text
        _validator(doc, "HTTPValidationError").validate(r.json())
        # Every other error is {"detail": string}.
        r = c.get("/api/auth/me")
        assert r.status_code == 401
        _validator(doc, "ErrorOut").validate(r.json())


def test_the_document_declares_one_error_shape() -> None:
    from app.main import create_app

    doc = create_app().openapi()
    schemas = doc["components"]["schemas"]
    assert set(schemas["ValidationError"]["properties"]) == {"loc", "msg", "type"}  # no input, no ctx
    assert schemas["ErrorOut"]["required"] == ["detail"]
    login = doc["paths"]["/api/auth/login"]["post"]["responses"]
    assert login["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], f"{method} {path}"
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert "content" in answer, f"{method} {path} {status} has no body"


# --- 3. security headers ------------------------------------------------------


def test_api_answers_carry_the_strict_policy_and_no_server_name(server: Server) -> None:
    with _client(server) as c:
        answers = [
            c.get("/api/health"),
            c.get("/api/auth/me"),  # 401
            c.get("/api/nothing-here"),  # 404
            c.post("/api/auth/login", json={}),  # 422
            c.get("/s/not-a-token.mp3"),  # user content path
        ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["content-security-policy"] == API_CSP, r.url
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in r.headers  # plain http
        assert "uvicorn" not in r.headers.get("server", "").lower()


def test_html_pages_get_the_ui_policy(server: Server) -> None:
    with _client(server) as c:
        r = c.get("/api/docs")
    assert r.status_code == 200
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"  # no inline
    assert csp["img-src"] == "'self' data: blob: https://*.yotoplay.com"  # Yoto's icons and covers
    assert csp["media-src"] == "'self' blob:"
    assert csp["frame-ancestors"] == "'none'"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_storage_origins_join_the_ui_policy(tmp_path: Path) -> None:
    env = {"STORAGE_ORIGINS": '["https://audio-bucket.s3.eu-west-2.amazonaws.com"]'}
    with make_run_server(tmp_path / "data", env) as s, _client(s) as c:
        csp = c.get("/api/docs").headers["content-security-policy"]
    assert "media-src 'self' blob: https://audio-bucket.s3.eu-west-2.amazonaws.com;" in csp
    assert "connect-src 'self' https://audio-bucket.s3.eu-west-2.amazonaws.com;" in csp


def test_hsts_on_https_only(tmp_path: Path) -> None:
    tls = self_signed_cert(tmp_path)
    with make_run_server(tmp_path / "data", tls=tls) as s, httpx.Client(verify=trusting(tls[0]), timeout=20) as c:
        r = c.get(f"{s.url}/api/health")
    assert r.status_code == 200
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    assert r.headers["content-security-policy"] == API_CSP


def test_an_unhandled_error_still_carries_the_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.deps
    from adapters import Adapters
    from app.main import create_app

    adapters = Adapters(Settings(data_dir=tmp_path / "data"))
    monkeypatch.setattr(app.deps, "get_adapters", lambda: adapters)
    application = create_app()

    def boom() -> None:
        raise RuntimeError("boom")

    application.add_api_route("/api/boom", boom)
    with TestClient(application) as c:
        r = c.get("/api/boom")
    assert r.status_code == 500
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == API_CSP


# --- 4. /api/docs from the app itself ----------------------------------------


def test_docs_assets_are_served_by_the_app(server: Server) -> None:
    with _client(server) as c:
        page = c.get("/api/docs").text
        refs = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert refs and all(not re.match(r"^([a-z]+:)?//", ref) for ref in refs), refs  # nothing absolute
        assert "<script>" not in page  # no inline script
        for ref in refs:
            r = c.get(f"/api/{ref}")
            assert r.status_code == 200, ref
        assert c.get("/api/docs/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/api/docs/index.html").status_code == 404  # only the listed assets
        assert c.get("/api/docs/..%2F..%2Fapp%2Fmain.py").status_code == 404
        assert c.get("/redoc").status_code == 404


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (scripts/system-deps.sh)")
def test_docs_render_in_chromium_with_no_other_host_and_no_csp_violation(server: Server, tmp_path: Path) -> None:
    with _client(server) as c:
        paths = set(c.get("/api/openapi.json").json()["paths"])
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no other host resolves
            "--enable-logging=stderr",
            "--v=1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{server.url}/api/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    rendered = set(re.findall(r'data-path="([^"]+)"', result.stdout))
    assert rendered == paths, f"Swagger UI rendered {len(rendered)} of {len(paths)} paths"
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console


def test_docs_are_off_on_aws_unless_asked_for(tmp_path: Path) -> None:
    assert Settings(use_aws=False).api_docs_enabled
    assert not Settings(use_aws=True).api_docs_enabled
    assert Settings(use_aws=True, api_docs=True).api_docs_enabled
    with make_run_server(tmp_path / "data", {"API_DOCS": "false"}) as s, _client(s) as c:
        r = c.get("/api/docs")
        assert r.status_code == 404
        assert r.json() == {"detail": "interactive API docs are off here (API_DOCS)"}
        assert c.get("/api/docs/swagger-ui-bundle.js").status_code == 404
        assert c.get("/api/openapi.json").status_code == 200


# --- 5. the origin secret and the client address -------------------------------


def test_origin_secret_refuses_requests_that_bypass_cloudfront(tmp_path: Path) -> None:
    with make_run_server(tmp_path / "data", {"ORIGIN_SECRET": "s3cret-from-cloudfront"}) as s, _client(s) as c:
        for headers in ({}, {"x-origin-verify": "guess"}, {"x-origin-verify": ""}):
            r = c.get("/api/health", headers=headers)
            assert r.status_code == 403
            assert r.json() == {"detail": "requests must come through the service's public address"}
            assert r.headers["x-content-type-options"] == "nosniff"
        assert c.get("/api/health", headers={"x-origin-verify": "s3cret-from-cloudfront"}).status_code == 200
        r = c.post("/api/auth/login", json={"username": "a", "password": "b"})
        assert r.status_code == 403


def test_spoofed_x_forwarded_for_does_not_change_the_address(tmp_path: Path) -> None:
    """uvicorn trusts X-Forwarded-For from loopback unless told not to; `make run`
    tells it not to, so every guess below lands in the one bucket of 127.0.0.1."""
    limits = {"LOGIN_MAX_FAILURES_PER_ADDRESS": "3", "LOGIN_MAX_FAILURES": "100", "LOGIN_WINDOW_S": "600"}
    with make_run_server(tmp_path / "data", limits) as s, _client(s) as c:
        statuses = [
            c.post(
                "/api/auth/login",
                json={"username": f"guess{i}", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


def _request(headers: dict[str, str], peer: str = "10.1.2.3", event: dict[str, Any] | None = None) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 50000),
    }
    if event is not None:
        scope["aws.event"] = event
    return Request(scope)


def test_client_address_per_deployment() -> None:
    spoof = {"X-Forwarded-For": "6.6.6.6", "CloudFront-Viewer-Address": "6.6.6.6:1234"}
    assert client_address(_request(spoof), Settings()) == "10.1.2.3"

    xff = Settings(client_address_from="x-forwarded-for")
    assert client_address(_request({"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}), xff) == "203.0.113.9"
    assert client_address(_request({"X-Forwarded-For": " 2001:DB8:0:0::1 "}), xff) == "2001:db8::1"
    assert client_address(_request({"X-Forwarded-For": "garbage"}), xff) == "10.1.2.3"
    assert client_address(_request({}), xff) == "10.1.2.3"

    cf = Settings(client_address_from="cloudfront", origin_secret="s3cret")
    viewer = {"CloudFront-Viewer-Address": "198.51.100.10:46532", "x-origin-verify": "s3cret"}
    assert client_address(_request(viewer), cf) == "198.51.100.10"
    v6 = {"CloudFront-Viewer-Address": "2001:db8:cafe::17:46532", "x-origin-verify": "s3cret"}
    assert client_address(_request(v6), cf) == "2001:db8:cafe::17"
    # Without the origin secret (or with a wrong one, or none configured) the header is anyone's.
    assert client_address(_request({**viewer, "x-origin-verify": "nope"}), cf) == "10.1.2.3"
    assert client_address(_request({"CloudFront-Viewer-Address": "198.51.100.10:1"}), cf) == "10.1.2.3"
    no_secret = Settings(client_address_from="cloudfront")
    assert client_address(_request(viewer), no_secret) == "10.1.2.3"

    apigw = Settings(client_address_from="apigw")
    event = {"requestContext": {"http": {"sourceIp": "203.0.113.7"}}}
    assert client_address(_request(spoof, event=event), apigw) == "203.0.113.7"
    assert client_address(_request(spoof), apigw) == "10.1.2.3"


def _http_api_event(path: str, headers: dict[str, str], source_ip: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.eu-west-2.amazonaws.com", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-2.amazonaws.com",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "t"},
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1796083200000,
        },
        "isBase64Encoded": False,
    }


def test_under_mangum_the_source_ip_and_the_origin_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lambda path: Mangum's scope carries the API Gateway event."""
    from mangum import Mangum

    import app.deps
    from adapters import Adapters
    from app.main import create_app

    settings = Settings(data_dir=tmp_path / "data", client_address_from="apigw", origin_secret="s3cret")
    monkeypatch.setattr(app.deps, "get_adapters", lambda: Adapters(settings))
    application = create_app()

    @application.get("/api/whoami")
    def whoami(request: Request) -> dict[str, str]:
        return {"address": client_address(request, settings)}

    handler = Mangum(application, lifespan="off")
    spoof = {"x-forwarded-for": "6.6.6.6"}
    direct = handler(_http_api_event("/api/whoami", spoof, "203.0.113.7"), object())
    assert direct["statusCode"] == 403  # the execute-api endpoint without CloudFront's secret
    via_cloudfront = handler(
        _http_api_event("/api/whoami", {**spoof, "x-origin-verify": "s3cret"}, "203.0.113.7"), object()
    )
    assert via_cloudfront["statusCode"] == 200
    assert json.loads(via_cloudfront["body"]) == {"address": "203.0.113.7"}
    assert via_cloudfront["headers"]["strict-transport-security"] == "max-age=31536000"  # API Gateway is https
