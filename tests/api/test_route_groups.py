"""Route groups load when first needed (app.routes): a cold start pays
for the group its event needs, not for every router, and nothing else changes
(matching order, 405 answers, the OpenAPI document)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from app.main import ROUTE_GROUPS, create_app
from app.routes import LazyRouteGroup, load_all
from core.settings import Settings
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_of_a_group_lives_under_its_prefixes() -> None:
    for group in ROUTE_GROUPS:
        for module in group.modules:
            paths = [r.path for r in importlib.import_module(module).router.routes if isinstance(r, APIRoute)]
            assert paths, module
            assert [p for p in paths if not group.covers(p)] == [], (group.name, module)


def test_prefixes_do_not_reach_into_each_other() -> None:
    assert not ROUTE_GROUPS[0].covers("/sounds") and ROUTE_GROUPS[0].covers("/s/x.mp3")
    for group in ROUTE_GROUPS:
        for other in ROUTE_GROUPS:
            if other is not group:
                assert not any(other.covers(p) for p in (*group.prefixes, *group.exact)), (group.name, other.name)


CHILD = """
import json, sys
from fastapi.testclient import TestClient
import app.main
def routers():
    return sorted(m for m in sys.modules if m.startswith("app.routers."))
seen = {"import": routers()}
client = TestClient(app.main.app)  # no `with`: no lifespan, as on Lambda
seen["health"] = (client.get("/api/health").status_code, routers())
seen["stream"] = (client.get("/s/nosuchitem.sig.mp3").status_code, routers())
seen["again"] = (client.get("/s/nosuchitem.sig.mp3").status_code, routers())
seen["openapi"] = (client.get("/api/openapi.json").status_code, routers())
print(json.dumps(seen))
"""


def test_a_request_imports_only_its_group_and_the_document_imports_them_all(tmp_path: Path) -> None:
    settings = Settings(use_aws=False, data_dir=tmp_path, session_secret=TEST_SECRET)
    env = {**os.environ, "USE_AWS": "false", "DATA_DIR": str(settings.data_dir), "SESSION_SECRET": TEST_SECRET}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["import"] == []
    assert seen["health"] == [200, ["app.routers.health"]]
    assert seen["stream"] == [403, ["app.routers.health", "app.routers.stream"]]
    assert seen["again"] == seen["stream"]
    every = sorted(m for group in ROUTE_GROUPS for m in group.modules)
    assert seen["openapi"] == [200, every]


def flat(routes: list[Any]) -> Iterator[APIRoute]:
    """API routes in matching order; FastAPI keeps an included router as one entry."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from flat(included.routes)


def test_a_loaded_group_takes_its_placeholders_place_in_order() -> None:
    app = create_app()
    placeholders = [r for r in app.router.routes if isinstance(r, LazyRouteGroup)]
    assert [p.group for p in placeholders] == list(ROUTE_GROUPS)
    load_all(app)
    assert not any(isinstance(r, LazyRouteGroup) for r in app.router.routes)
    paths = [r.path for r in flat(app.router.routes)]
    # The fixed /api/audio paths still come before /api/audio/{item_id}, and /s before every group.
    assert paths.index("/s/{token}.mp3") < paths.index("/api/health")
    assert paths.index("/api/audio/uploads/{upload_id}") < paths.index("/api/audio/{item_id}")
    assert paths.index("/api/audio/tts") < paths.index("/api/audio/{item_id}")


def test_the_document_is_the_same_however_the_groups_were_loaded() -> None:
    lazy = create_app()
    eager = create_app()
    load_all(eager)
    assert lazy.openapi() == eager.openapi()
    assert "/s/{token}.mp3" in lazy.openapi()["paths"] and "/api/storage/upload" in lazy.openapi()["paths"]
