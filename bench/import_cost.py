"""Import cost of the app with the local vs. the AWS adapter set.

Each measurement runs in a fresh interpreter (so nothing is cached in
sys.modules) and is repeated; medians are reported, as ratios against a
baseline measured in the same run: a bare `import fastapi`.

Shown per backend:
- `import app.main` + a `/api/health` request: must not load boto3, botocore
  or sqlalchemy (the script fails loudly if it does);
- the extra cost the first request that needs records pays: building the
  records adapter (imports sqlalchemy locally, boto3 on AWS).

Run: .venv/bin/python bench/import_cost.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("boto3", "botocore", "sqlalchemy")

BASELINE = """
import time; t = time.perf_counter()
import fastapi
print(json.dumps({"import_s": time.perf_counter() - t}))
"""

APP = """
import time; t = time.perf_counter()
import app.main
t_import = time.perf_counter() - t
from starlette.testclient import TestClient
client = TestClient(app.main.app)
assert client.get("/api/health").status_code == 200
loaded_after_health = [m for m in HEAVY if m in sys.modules]
t = time.perf_counter()
from adapters import get_adapters
records = get_adapters().records
t_records = time.perf_counter() - t
print(json.dumps({"import_s": t_import, "records_s": t_records,
                  "loaded_after_health": loaded_after_health,
                  "loaded_after_records": [m for m in HEAVY if m in sys.modules]}))
"""


def run(code: str, env: dict[str, str]) -> dict[str, object]:
    prelude = f"import json, sys\nHEAVY = {HEAVY!r}\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="yss-bench-")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "USE_AWS"))}
    base_env.update({"DATA_DIR": data_dir, "SESSION_SECRET": "bench-secret-" + "x" * 32})
    envs = {
        "local": {**base_env, "USE_AWS": "false"},
        "aws": {
            **base_env,
            "USE_AWS": "true",
            "DYNAMODB_TABLE": "t",
            "S3_AUDIO_BUCKET": "b",
            "COGNITO_USER_POOL_ID": "eu-west-2_x",
            "COGNITO_CLIENT_ID": "c",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never contacted: building an adapter makes no call
        },
    }
    baseline = statistics.median(float(run(BASELINE, base_env)["import_s"]) for _ in range(args.runs))  # type: ignore[arg-type]
    print(f"runs per figure: {args.runs} (fresh interpreter each), medians")
    print(f"baseline `import fastapi`: {baseline * 1000:.0f} ms")
    for name, env in envs.items():
        results = [run(APP, env) for _ in range(args.runs)]
        imp = statistics.median(float(r["import_s"]) for r in results)  # type: ignore[arg-type]
        rec = statistics.median(float(r["records_s"]) for r in results)  # type: ignore[arg-type]
        after_health = results[0]["loaded_after_health"]
        if after_health:
            raise SystemExit(f"{name}: importing the app loaded {after_health}")
        print(
            f"{name:5}: import app.main {imp * 1000:4.0f} ms ({imp / baseline:.2f}x baseline); "
            f"first records use +{rec * 1000:.0f} ms loads {results[0]['loaded_after_records']}; "
            f"loaded after health: none of {', '.join(HEAVY)}"
        )


if __name__ == "__main__":
    main()
