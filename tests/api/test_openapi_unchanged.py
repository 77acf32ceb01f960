"""The OpenAPI document is the one committed in tests/api/openapi.json.

A refactor must leave the API's contract byte for byte as it was; a change
meant to alter it regenerates the snapshot on purpose and shows the diff in
review: `.venv/bin/python -m tests.api.test_openapi_unchanged`.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("openapi.json")


def current_document() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def test_the_openapi_document_is_the_committed_snapshot() -> None:
    expected = SNAPSHOT.read_text(encoding="utf-8")
    actual = current_document()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "openapi.json (committed)", "openapi.json (now)", lineterm=""
        )
        raise AssertionError("the OpenAPI document changed:\n" + "\n".join(list(diff)[:80]))


def test_the_snapshot_is_a_whole_document() -> None:
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.")
    assert "/api/health" in doc["paths"] and "/api/players/{player_id}/commands" in doc["paths"]
    assert len(doc["paths"]) > 50


if __name__ == "__main__":
    SNAPSHOT.write_text(current_document(), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
