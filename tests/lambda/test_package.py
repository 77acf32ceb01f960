"""The built Lambda package, run for real.

The zip comes from `infra.lambda_package.build_lambda_package` (the very
function the Pulumi program deploys with) for this machine's architecture and
Lambda's CPython 3.12. It is unpacked and run by a separate CPython 3.12 with
`-I -S`: no site-packages, no PYTHONPATH, only the package directory on
sys.path, which is what `/var/task` gives a Lambda function. A missing
dependency or a wheel for the wrong platform/version fails here.

The "container" is one long-lived process fed API Gateway v2 events, so
adapters and clients are reused across invocations as on a warm Lambda. The
AWS side is a moto server; resources and the first user are created from
this test process, as Pulumi and the admin CLI would.

TTS: moto's Polly answers every SynthesizeSpeech with 8 zero bytes, and an
in-process mock cannot reach into the isolated interpreter. So the honest
check is that the request reached Polly (moto's access log shows
`POST /v1/speech`) and that the API then refused the non-audio with its
documented 4xx, leaving no library item behind.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import pytest

from adapters import Adapters
from core.settings import Settings
from infra.lambda_package import LOCAL_ONLY_PACKAGES, ROOT, PackageResult, build_lambda_package
from tests.conftest import AWS_ENV, TEST_SECRET
from tests.servers import moto_server

LAMBDA_PYTHON = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")
DRIVER = Path(__file__).with_name("package_driver.py")
USERNAME = "mum"
PASSWORD = "correct horse battery staple"
INVOKE_TIMEOUT_S = 120  # Lambda's own limit would be the function timeout

apigw: ModuleType = importlib.import_module("tests.lambda.apigw")
ORIGIN = f"https://{apigw.DOMAIN}"


def lambda_interpreter() -> tuple[str, str]:
    """(interpreter, version): Lambda's 3.12 when this machine has it, else the host's own."""
    if LAMBDA_PYTHON.exists():
        return str(LAMBDA_PYTHON), "3.12"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    warnings.warn(
        f"{LAMBDA_PYTHON} not found: building and running the package for the host's CPython {version} "
        "instead of Lambda's 3.12",
        stacklevel=1,
    )
    return sys.executable, version


@dataclass
class Built:
    result: PackageResult
    python: str
    version: str
    root: Path
    names: list[str]  # read once: later builds may prune the cached zip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    python, version = lambda_interpreter()
    result = build_lambda_package(platform.machine(), python_version=version)
    root = tmp_path_factory.mktemp("var-task")
    with zipfile.ZipFile(result.zip_path) as zf:
        zf.extractall(root)
        names = zf.namelist()
    return Built(result, python, version, root, names)


@dataclass
class Moto:
    url: str
    log: Path
    settings: Settings


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    from adapters.aws.bootstrap import create_resources

    log_dir = tmp_path_factory.mktemp("moto-pkg")
    with moto_server(log_dir) as url, pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        mp.setenv("AWS_ENDPOINT_URL", url)
        base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=log_dir)
        res = create_resources(base, prefix="pkg")
        settings = res.settings_for(base, session_secret=TEST_SECRET, public_url=ORIGIN)
        (log,) = log_dir.glob("moto-*.log")
        yield Moto(url, log, settings)


def wait_for_log(log: Path, offset: int, needle: str, timeout: float = 5.0) -> int:
    """How often `needle` appears in the log past `offset`, waiting briefly for
    the server's access line (written just after its response)."""
    deadline = time.monotonic() + timeout
    while True:
        count = log.read_text()[offset:].count(needle)
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


class Container:
    """One warm 'Lambda container': the driver process and its pipes."""

    def __init__(self, proc: subprocess.Popen[str], ready: dict[str, Any]) -> None:
        self.proc = proc
        self.ready = ready
        self.cookies: list[str] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"event": event}) + "\n")
        self.proc.stdin.flush()
        # One line in, one line out, so nothing waits in the pipe's buffer: select is reliable.
        ready, _, _ = select.select([self.proc.stdout], [], [], INVOKE_TIMEOUT_S)
        assert ready, f"no answer from the package process within {INVOKE_TIMEOUT_S} s"
        line = self.proc.stdout.readline()
        assert line, "the package process died; see its stderr log"
        reply = json.loads(line)
        assert "crash" not in reply, reply["crash"]
        return reply["response"]

    def request(self, method: str, path: str, *, json_body: Any = None, **kw: Any) -> tuple[int, dict[str, Any], Any]:
        headers = {"origin": ORIGIN, **kw.pop("headers", {})}
        body = None
        if json_body is not None:
            body = json.dumps(json_body)
            headers["content-type"] = "application/json"
        event = apigw.http_event(method, path, headers=headers, cookies=self.cookies or None, body=body, **kw)
        response = self.invoke(event)
        raw = apigw.response_body(response)
        is_json = response.get("headers", {}).get("content-type", "").startswith("application/json")
        return response["statusCode"], response, json.loads(raw) if is_json and raw else raw


@pytest.fixture(scope="module")
def container(built: Built, moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    settings_env = importlib.import_module("tests.lambda.conftest").settings_env
    work = tmp_path_factory.mktemp("lambda-tmp")
    env = {
        **AWS_ENV,
        **settings_env(moto.settings),
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_CONFIG_FILE": str(work / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-credentials"),
        "AWS_LAMBDA_FUNCTION_NAME": "yoto-smart-stream-api",
        "LAMBDA_TASK_ROOT": str(built.root),
        "TMPDIR": str(work),
        "HOME": str(work),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    stderr_log = work / "stderr.log"
    err: IO[str] = open(stderr_log, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [built.python, "-I", "-S", "-B", str(DRIVER), str(built.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env=env,
        cwd=built.root,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"the package did not import:\n{stderr_log.read_text()}"
        yield Container(proc, json.loads(line))
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


def test_package_has_sources_and_no_dev_or_local_only_code(built: Built) -> None:
    names = built.names
    tops = {n.split("/", 1)[0] for n in names}
    # mqtt/: the API sends player commands itself, and the on-demand listener runs this package (issue 11)
    assert {"app", "adapters", "mqtt", "fastapi", "pydantic_core", "mangum", "boto3", "av", "paho"} <= tops
    assert not tops & {"tests", "infra", "bench", "docs", "policy", "simulator", "scripts"}
    # Bytecode only as compiled for the target CPython, each next to its source.
    tag = f"cpython-{built.version.replace('.', '')}"
    pycs = [n for n in names if n.endswith(".pyc")]
    assert all("/__pycache__/" in f"/{n}" and n.endswith(f".{tag}.pyc") for n in pycs)
    assert built.result.precompiled == bool(pycs)
    if built.result.precompiled:
        assert f"app/__pycache__/lambda_handler.{tag}.pyc" in names
        sources = set(names)
        orphans = [n for n in pycs if n.replace("__pycache__/", "").replace(f".{tag}.pyc", ".py") not in sources]
        assert orphans == []
    dists = {n.split("/", 1)[0].split("-", 1)[0].lower().replace("_", "-") for n in names if ".dist-info/" in n}
    assert not dists & LOCAL_ONLY_PACKAGES, dists & LOCAL_ONLY_PACKAGES
    assert not tops & {"uvicorn", "sqlalchemy", "gtts", "rich"}
    assert "argon2" in tops  # a migrated user's first sign-in checks their argon2 hash
    suffix = f"cpython-{built.version.replace('.', '')}-{platform.machine()}-linux-gnu.so"
    assert any(n.startswith("pydantic_core/") and n.endswith(suffix) for n in names), "wrong-platform pydantic-core"


def test_interpreter_sees_only_the_package(container: Container, built: Built) -> None:
    ready = container.ready
    assert ready["flags"] == {"isolated": 1, "no_site": 1}
    assert ready["version"][:2] == [int(p) for p in built.version.split(".")]
    assert ready["sys_path"][0] == str(built.root)
    venv = str(Path(sys.prefix))
    for entry in ready["sys_path"]:
        assert "site-packages" not in entry and not entry.startswith(venv), entry
    assert ready["backend_modules"] == []  # importing the handler loaded no boto3


def test_health(container: Container) -> None:
    status, response, body = container.request("GET", "/api/health", request_id="pkg-health")
    assert status == 200, body
    assert body["status"] == "ok" and body["backend"] == "aws"
    assert response["headers"]["x-request-id"] == "pkg-health"


def test_family_flow_login_upload_list_stream_tts(container: Container, moto: Moto, tmp_path: Path) -> None:
    from tests.audio_fixtures import write_tone

    # The first user, made as the admin CLI would (the test process still has moto's environment).
    Adapters(moto.settings).identity.create_user(USERNAME, PASSWORD, is_admin=True)

    # Login through Cognito: the session cookie comes back in the v2 `cookies` field.
    status, response, body = container.request(
        "POST", "/api/auth/login", json_body={"username": USERNAME, "password": "wrong password here"}
    )
    assert status == 401, body
    status, response, body = container.request(
        "POST", "/api/auth/login", json_body={"username": USERNAME, "password": PASSWORD}
    )
    assert status == 200, body
    assert body["username"] == USERNAME
    (cookie,) = [c for c in response["cookies"] if c.startswith("yss_session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie
    container.cookies = [cookie.split(";", 1)[0]]

    # Upload in two signed steps; the bytes go from this process straight to S3 (moto).
    tone = write_tone(tmp_path / "lullaby.mp3", "mp3", seconds=2.0)
    status, _, upload = container.request(
        "POST", "/api/audio/uploads", json_body={"filename": "lullaby.mp3", "size_bytes": tone.stat().st_size}
    )
    assert status == 201, upload
    target = upload["target"]
    assert target["method"] == "POST"
    sent = httpx.post(
        target["url"],
        data=target["fields"],
        files={target["file_field"]: ("lullaby.mp3", tone.read_bytes(), "audio/mpeg")},
        timeout=30,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    status, _, item = container.request(
        "POST", f"/api/audio/uploads/{upload['id']}/complete", json_body={"title": "Lullaby"}
    )
    assert status == 201, item
    assert item["title"] == "Lullaby"
    assert 1.5 < item["duration_s"] < 2.6

    status, _, page = container.request("GET", "/api/audio")
    assert status == 200, page
    assert [i["id"] for i in page["items"]] == [item["id"]]

    # The card's URL: a 302 to a presigned S3 GET that really returns MP3 bytes.
    status, _, out = container.request("GET", f"/api/audio/{item['id']}/stream-url")
    assert status == 200, out
    stream = urlsplit(out["url"])
    assert f"{stream.scheme}://{stream.netloc}" == ORIGIN
    saved = container.cookies
    container.cookies = []  # a player sends no cookie
    status, response, _ = container.request("GET", stream.path)
    container.cookies = saved
    assert status == 302
    location = response["headers"]["location"]
    assert location.startswith(moto.url)
    audio = httpx.get(location, timeout=30)
    assert audio.status_code == 200
    assert audio.content[:3] == b"ID3" or audio.content[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xfa")

    # TTS through Polly (moto): the request reaches Polly, the 8 fake bytes are refused.
    before = moto.log.read_text()
    status, _, body = container.request("POST", "/api/audio/tts", json_body={"text": "Time for bed", "title": "Bed"})
    assert wait_for_log(moto.log, len(before), "POST /v1/speech") == 1
    assert status in (415, 422), body
    assert body["detail"]
    status, _, page = container.request("GET", "/api/audio")
    assert [i["id"] for i in page["items"]] == [item["id"]]  # nothing half-made was left


def test_package_run_wrote_nothing_into_the_task_root(container: Container, built: Built) -> None:
    """Lambda's /var/task is read-only; the app must write only under /tmp."""
    container.request("GET", "/api/health")
    on_disk = {p.relative_to(built.root).as_posix() for p in built.root.rglob("*") if p.is_file()}
    shipped = {n for n in built.names if not n.endswith("/")}
    assert on_disk - shipped == set()


def test_same_sources_give_the_same_hash(built: Built, tmp_path: Path) -> None:
    """A snapshot of the sources (others edit the tree meanwhile) built, rebuilt
    from scratch with fresh mtimes, then changed by one byte."""
    for name in ("app", "core", "services", "adapters"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    first = build_lambda_package(platform.machine(), python_version=built.version, project_root=tmp_path)
    first.zip_path.unlink()  # the cache entry goes: the second build starts from the same inputs
    for path in tmp_path.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    again = build_lambda_package(platform.machine(), python_version=built.version, project_root=tmp_path)
    assert again.zip_path == first.zip_path and again.zip_path.exists()
    assert (again.sha256_b64, again.zipped_bytes) == (first.sha256_b64, first.zipped_bytes)
    assert again.sha256_b64 == base64.b64encode(hashlib.sha256(again.zip_path.read_bytes()).digest()).decode()
    info = zipfile.ZipFile(again.zip_path).getinfo("app/main.py")
    assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr >> 16 == 0o100644

    with (tmp_path / "app" / "main.py").open("a") as fh:
        fh.write("\n# changed\n")
    changed = build_lambda_package(platform.machine(), python_version=built.version, project_root=tmp_path)
    assert changed.sha256_b64 != first.sha256_b64
