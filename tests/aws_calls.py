"""Records every AWS API operation the adapters call during the test run.

The Pulumi program grants exactly the actions in `adapters/aws/permissions.py`;
this check fails the run when an adapter calls anything outside them, so the
IAM policy cannot silently fall behind the code. Only calls made from adapter
modules count (not the tests' own set-up calls, nor the moto bootstrap).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ADAPTERS = Path(__file__).resolve().parent.parent / "adapters"
BOOTSTRAP = ADAPTERS / "aws" / "bootstrap.py"

# Operations whose IAM action has another name, and public ones that need none.
IAM_ALIASES = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "lambda:Invoke": "lambda:InvokeFunction",
}
NO_IAM_NEEDED = {"cognito-idp:InitiateAuth", "cognito-idp:RespondToAuthChallenge"}


def iam_action(prefix: str, operation: str) -> str | None:
    action = f"{prefix}:{operation}"
    if action in NO_IAM_NEEDED:
        return None
    return IAM_ALIASES.get(action, action)


def install_recorder(seen: set[str]) -> Any:
    """Patch botocore's API call path; returns a function that undoes it."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        frame = sys._getframe(1)
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if path == BOOTSTRAP:
                break
            if ADAPTERS in path.parents:
                prefix = self.meta.service_model.signing_name
                action = iam_action(prefix, operation_name)
                if action:
                    seen.add(action)
                break
            frame = frame.f_back
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]

    def undo() -> None:
        BaseClient._make_api_call = original  # type: ignore[method-assign]

    return undo


def allowed_actions() -> set[str]:
    from adapters.aws import permissions

    return {
        *permissions.DYNAMODB_ACTIONS,
        *permissions.S3_OBJECT_ACTIONS,
        *permissions.S3_BUCKET_ACTIONS,
        *permissions.COGNITO_ACTIONS,
        *permissions.POLLY_ACTIONS,
        *permissions.LAMBDA_INVOKE_ACTIONS,
    }
