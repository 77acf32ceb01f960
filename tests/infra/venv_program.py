"""Run inside the virtualenv built from requirements.txt alone: `__main__.py` under the mock runtime.

    <venv>/bin/python -m tests.infra.venv_program PACKAGE_ZIP STUB_MQTT_ENTRY

Prints one JSON document: where the interpreter and the Pulumi SDKs come from,
which development-only packages are importable (none should be), and per
configuration what the program declared and whether every security rule
passed. Imports nothing that requirements.txt does not provide (no pytest).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

# Importable in the developer's venv (requirements-dev.txt) but not from requirements.txt.
DEV_ONLY_MODULES = ("pytest", "moto", "ruff", "pulumi_policy", "mutagen")
SDK_MODULES = ("pulumi", "pulumi_aws", "pulumi_random", "pulumi_docker_build", "yaml")


def main(package_zip: str, stub_entry: str) -> dict[str, object]:
    import infra.config
    from infra.rules import RuleContext, evaluate
    from tests.infra.program import run_program

    infra.config.MQTT_ENTRY_FILE = Path(stub_entry)  # the handler as it will be once it lands
    configs = {
        "dev-stack-file": ("dev", {}),
        "prod-mqtt-on": ("prod", {"enableMqttHandler": "true"}),
    }
    runs: dict[str, object] = {}
    for cid, (stack, overrides) in configs.items():
        run = run_program(stack, {**overrides, "lambdaPackageZip": package_zip})
        runs[cid] = {
            "types": sorted(run.types()),
            "outputs": sorted(run.outputs),
            "lambda_env_keys": sorted(
                run.one("aws:lambda/function:Function", "-app").inputs["environment"]["variables"]
            ),
            "violations": evaluate(run.rule_resources(), RuleContext(production=stack == "prod")),
        }
    return {
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "sdk_files": {m: getattr(__import__(m), "__file__", None) for m in SDK_MODULES},
        "dev_only_importable": [m for m in DEV_ONLY_MODULES if importlib.util.find_spec(m) is not None],
        "runs": runs,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
