"""Every AWS API action the adapters call, per service.

The Pulumi program grants exactly these (least privilege) and a test checks
that the contract suites call nothing outside them. An adapter that starts
calling a new action adds it here in the same change.
"""

from __future__ import annotations

DYNAMODB_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
)
S3_OBJECT_ACTIONS: tuple[str, ...] = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
# ListBucket (ListObjectsV2): `S3Storage.delete_stale` lists the prefix it sweeps.
S3_BUCKET_ACTIONS: tuple[str, ...] = ("s3:ListBucket",)
COGNITO_ACTIONS: tuple[str, ...] = (
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:ListUsers",
    "cognito-idp:ListUsersInGroup",
)
# Polly has no resource-level permissions: the one documented Resource "*" exception.
POLLY_ACTIONS: tuple[str, ...] = ("polly:SynthesizeSpeech", "polly:DescribeVoices")
# The API hands long jobs to the worker function (`worker_queue.LambdaRunQueue`),
# and EventBridge Scheduler invokes the worker each minute: the worker's ARN only.
# The API starts the on-demand MQTT listener (mqttMode=on-demand), on that one function only.
LAMBDA_INVOKE_ACTIONS: tuple[str, ...] = ("lambda:InvokeFunction",)
