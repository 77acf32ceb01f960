"""Runs INSIDE the isolated interpreter: imports the handler from the built
package only and answers API Gateway events, one JSON line in, one out.

Started as `python3.12 -I -S package_driver.py PACKAGE_DIR` (no site-packages,
no environment-driven paths, not even this file's directory on sys.path), so
anything the package forgot to ship fails here as it would on Lambda. It uses
the standard library only.

Protocol on stdout: first {"ready": ...} with sys.path, the interpreter and
the import time; then, for each line {"event": {...}} on stdin, a line
{"response": {...}} or {"crash": "traceback"} when the handler itself raised
(which Lambda would report as a function error).
"""

import json
import sys
import time
import traceback


class Context:
    aws_request_id = "11111111-2222-3333-4444-555555555555"
    function_name = "yoto-smart-stream-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:yoto-smart-stream-api"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main() -> None:
    package_dir = sys.argv[1]
    sys.path.insert(0, package_dir)
    out = sys.stdout
    started = time.perf_counter()
    from app.lambda_handler import handler

    ready = {
        "ready": True,
        "sys_path": sys.path,
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "import_s": time.perf_counter() - started,
        "flags": {"isolated": sys.flags.isolated, "no_site": sys.flags.no_site},
        "backend_modules": [m for m in ("boto3", "botocore", "sqlalchemy") if m in sys.modules],
    }
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        event = json.loads(line)["event"]
        try:
            reply = {"response": handler(event, Context())}
        except Exception:
            reply = {"crash": traceback.format_exc()}
        reply["modules"] = sorted(m for m in ("boto3", "botocore", "sqlalchemy", "av") if m in sys.modules)
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
