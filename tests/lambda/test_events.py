"""The Mangum handler against API Gateway HTTP API (payload 2.0) events.

Event shapes the real app has no route for yet (binary bodies, several
Set-Cookie values, a redirect) are sent through a small app wrapped exactly
like the real one (same middleware, same Mangum settings); the real handler
is exercised for health, unknown routes and an unhandled error, and for
login / upload / stream in `test_real_app.py`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from mangum import Mangum

from app.http.errors import install_error_handling
from app.http.logging import JsonFormatter
from core.settings import Settings

PRESIGNED = "https://yss-audio.s3.eu-west-2.amazonaws.com/audio/a1.mp3?X-Amz-Signature=abc&X-Amz-Expires=900"
MP3_BYTES = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4


def shape_app() -> FastAPI:
    """Routes for each event shape, wrapped like `app.lambda_handler`."""
    app = FastAPI()

    @app.get("/api/echo/{name}")
    def echo(name: str, request: Request) -> dict[str, Any]:
        event = request.scope["aws.event"]
        return {
            "name": name,
            "path": request.url.path,
            "tags": request.query_params.getlist("tag"),
            "q": request.query_params.get("q"),
            "cookies": dict(request.cookies),
            "route_key": event["routeKey"],
            "raw_path": event["rawPath"],
        }

    @app.post("/api/cookies")
    def cookies(response: Response) -> dict[str, str]:
        response.set_cookie("session", "s-123", httponly=True, secure=True, samesite="lax")
        response.set_cookie("theme", "dark")
        response.delete_cookie("old")
        return {"ok": "yes"}

    @app.get("/api/track.mp3")
    def track() -> Response:
        return Response(MP3_BYTES, media_type="audio/mpeg")

    @app.get("/s/{token}.mp3")
    def stream(token: str) -> RedirectResponse:
        return RedirectResponse(PRESIGNED, status_code=302)

    @app.post("/api/upload")
    async def upload(title: str = Form(...), file: UploadFile = File(...)) -> dict[str, Any]:
        data = await file.read()
        digest = hashlib.sha256(data).hexdigest()
        return {"title": title, "filename": file.filename, "size": len(data), "sha256": digest}

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("the disk is on fire")

    install_error_handling(app)
    return app


@pytest.fixture(scope="module")
def shape_handler() -> Mangum:
    return Mangum(shape_app(), lifespan="off")


def call(handler: Mangum, event: dict[str, Any], apigw: ModuleType) -> dict[str, Any]:
    response = handler(event, apigw.LambdaContext())
    json.dumps(response)  # what Lambda returns to API Gateway must be plain JSON
    return response


def test_example_event_fields_reach_the_app(shape_handler: Mangum, apigw: ModuleType) -> None:
    event = apigw.http_event(
        "GET",
        "/api/echo/caf%C3%A9",
        query=[("tag", "bedtime"), ("tag", "calm"), ("tag", "a,b"), ("q", "Gruffalo & friends")],
        cookies=["yss_session=abc.def", "theme=dark"],
    )
    assert event["queryStringParameters"]["tag"] == "bedtime,calm,a,b"  # API Gateway's lossy join
    response = call(shape_handler, event, apigw)
    assert response["statusCode"] == 200
    body = json.loads(apigw.response_body(response))
    # Repeated keys survive because Mangum reads rawQueryString, not the joined map.
    assert body["tags"] == ["bedtime", "calm", "a,b"]
    assert body["q"] == "Gruffalo & friends"
    assert body["cookies"] == {"yss_session": "abc.def", "theme": "dark"}
    assert body["route_key"] == "$default"
    assert body["raw_path"] == "/api/echo/caf%C3%A9"


def test_proxy_route_key_and_raw_path(shape_handler: Mangum, apigw: ModuleType) -> None:
    event = apigw.http_event("GET", "/api/echo/x", route_key="ANY /{proxy+}")
    response = call(shape_handler, event, apigw)
    body = json.loads(apigw.response_body(response))
    assert body == {
        "name": "x",
        "path": "/api/echo/x",
        "tags": [],
        "q": None,
        "cookies": {},
        "route_key": "ANY /{proxy+}",
        "raw_path": "/api/echo/x",
    }


def test_several_set_cookie_values_go_to_the_cookies_field(shape_handler: Mangum, apigw: ModuleType) -> None:
    response = call(shape_handler, apigw.http_event("POST", "/api/cookies", body="{}"), apigw)
    assert response["statusCode"] == 200
    cookies = response["cookies"]
    assert len(cookies) == 3
    assert cookies[0].startswith("session=s-123;") and "HttpOnly" in cookies[0] and "Secure" in cookies[0]
    assert cookies[1].startswith("theme=dark;")
    assert cookies[2].startswith('old="";') and "Max-Age=0" in cookies[2]
    assert "set-cookie" not in {k.lower() for k in response["headers"]}


def test_binary_response_is_base64(shape_handler: Mangum, apigw: ModuleType) -> None:
    response = call(shape_handler, apigw.http_event("GET", "/api/track.mp3"), apigw)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response["headers"]["content-type"] == "audio/mpeg"
    assert apigw.response_body(response) == MP3_BYTES


def test_redirect_keeps_location(shape_handler: Mangum, apigw: ModuleType) -> None:
    response = call(shape_handler, apigw.http_event("GET", "/s/tok123.mp3"), apigw)
    assert response["statusCode"] == 302
    assert response["headers"]["location"] == PRESIGNED


def test_base64_multipart_body(shape_handler: Mangum, apigw: ModuleType) -> None:
    payload = bytes(range(256)) * 64 + b"\r\n--not-a-boundary\r\n"
    body, ctype = apigw.multipart({"title": "Bath song"}, {"file": ("bath.mp3", payload, "audio/mpeg")})
    event = apigw.http_event("POST", "/api/upload", headers={"content-type": ctype}, body=body)
    assert event["isBase64Encoded"] is True
    response = call(shape_handler, event, apigw)
    assert response["statusCode"] == 200, response
    assert json.loads(apigw.response_body(response)) == {
        "title": "Bath song",
        "filename": "bath.mp3",
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def test_unhandled_error_is_json_with_the_request_id(
    shape_handler: Mangum, apigw: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    event = apigw.http_event("GET", "/api/boom", request_id="Kx9ZhjMeoAMEbxA=")
    with caplog.at_level(logging.INFO, logger="yss.request"):
        response = call(shape_handler, event, apigw)
    assert response["statusCode"] == 500
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-request-id"] == "Kx9ZhjMeoAMEbxA="
    assert json.loads(apigw.response_body(response)) == {
        "detail": "internal server error",
        "request_id": "Kx9ZhjMeoAMEbxA=",
    }
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "yss.request"]
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["request_id"] == "Kx9ZhjMeoAMEbxA="
    assert error["path"] == "/api/boom"
    assert "RuntimeError: the disk is on fire" in error["exception"]
    access = next(line for line in lines if line["message"] == "request")
    assert access["status"] == 500 and access["request_id"] == "Kx9ZhjMeoAMEbxA="


def test_json_log_line_written_to_stderr_inside_lambda(apigw: ModuleType, tmp_path: Any) -> None:
    """In a Lambda-like environment the handler module switches the root logger to JSON lines."""
    code = (
        "import json, sys, importlib;"
        "apigw = importlib.import_module('tests.lambda.apigw');"
        "from app.lambda_handler import handler;"
        "ev = apigw.http_event('GET', '/api/health', request_id='REQ-42');"
        "r = handler(ev, apigw.LambdaContext());"
        "print(json.dumps(r))"
    )
    env = {"AWS_LAMBDA_FUNCTION_NAME": "yss-api", "USE_AWS": "true", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout.strip().splitlines()[-1])
    # USE_AWS without table names: ConfigError on the first adapter use, answered as JSON.
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["request_id"] == "REQ-42"
    log_lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    error = next(line for line in log_lines if line["level"] == "ERROR")
    assert error["request_id"] == "REQ-42"
    assert "DYNAMODB_TABLE" in error["exception"]
    assert not [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("{")]


def test_real_handler_health(lambda_env: Settings, apigw: ModuleType) -> None:
    from app.lambda_handler import handler

    event = apigw.http_event("GET", "/api/health", request_id="health-1")
    response = call(handler, event, apigw)
    assert response["statusCode"] == 200
    assert json.loads(apigw.response_body(response))["backend"] == "aws"
    assert response["headers"]["x-request-id"] == "health-1"


def test_real_handler_unknown_route_is_json_404(lambda_env: Settings, apigw: ModuleType) -> None:
    from app.lambda_handler import handler

    response = call(handler, apigw.http_event("GET", "/api/no-such-thing"), apigw)
    assert response["statusCode"] == 404
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(apigw.response_body(response)) == {"detail": "Not Found"}


def test_importing_the_handler_loads_no_backend_library() -> None:
    code = (
        "import sys, app.lambda_handler;"
        "assert callable(app.lambda_handler.handler);"
        "print(','.join(m for m in ('boto3','botocore','sqlalchemy','gtts','argon2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
