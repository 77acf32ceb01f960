"""Build the Lambda package for each architecture and print its sizes.

    .venv/bin/python scripts/build_lambda.py                 # arm64 and x86_64, CPython 3.12
    .venv/bin/python scripts/build_lambda.py --arch arm64 --out-dir dist
    .venv/bin/python scripts/build_lambda.py --compare-boto3 # what shipping our own boto3 costs

Uses `infra.lambda_package`, the same builder the Pulumi program deploys with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.lambda_package import (
    PackageBuildError,
    PackageResult,
    build_lambda_package,
)

# Direct upload limit, read conservatively as decimal megabytes; larger zips must go through S3.
LAMBDA_ZIP_LIMIT = 50_000_000
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + layers, unzipped


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def row(label: str, result: PackageResult) -> str:
    notes = []
    if result.zipped_bytes > LAMBDA_ZIP_LIMIT:
        notes.append("over 50 MB zipped: upload via S3")
    if result.unzipped_bytes > LAMBDA_UNZIPPED_LIMIT:
        notes.append("OVER Lambda's 250 MiB unzipped limit")
    return (
        f"{label:<22} {mb(result.zipped_bytes):>10} {mb(result.unzipped_bytes):>11} {result.files:>6}  "
        f"{result.sha256_b64}  {'; '.join(notes)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", choices=["arm64", "x86_64"], help="default: both")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("--compare-boto3", action="store_true", help="also build without boto3/botocore")
    args = parser.parse_args(argv)
    print(f"{'package':<22} {'zipped':>10} {'unzipped':>11} {'files':>6}  sha256 (base64)")
    try:
        for arch in args.arch or ["arm64", "x86_64"]:
            full = build_lambda_package(arch, args.python_version, args.out_dir)
            print(row(f"{arch} py{args.python_version}", full), flush=True)
            if args.compare_boto3:
                lean = build_lambda_package(arch, args.python_version, include_boto3=False)
                print(row(f"{arch} without boto3", lean))
                print(
                    f"{'  boto3 costs':<22} {mb(full.zipped_bytes - lean.zipped_bytes):>10} "
                    f"{mb(full.unzipped_bytes - lean.unzipped_bytes):>11}"
                )
    except PackageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
