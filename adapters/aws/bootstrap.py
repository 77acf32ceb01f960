"""Create the AWS resources the adapters expect, on a moto server.

Used by the tests and by `python -m adapters.aws.bootstrap` for trying the AWS
adapter set against a local moto server. On real AWS the Pulumi program owns
these resources; this module is never used there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from adapters.aws.clients import client
from adapters.aws.schema import TTL_ATTRIBUTE, create_table_kwargs
from core.password_policy import MIN_LENGTH
from core.settings import Settings


@dataclass(frozen=True)
class AwsResources:
    table: str
    audio_bucket: str
    user_pool_id: str
    client_id: str

    def settings_for(self, base: Settings, **overrides: object) -> Settings:
        """`base` pointed at these resources (plus any other field overrides)."""
        update = {
            "dynamodb_table": self.table,
            "s3_audio_bucket": self.audio_bucket,
            "cognito_user_pool_id": self.user_pool_id,
            "cognito_client_id": self.client_id,
            **overrides,
        }
        return base.model_copy(update=update)


def create_resources(settings: Settings, *, prefix: str = "yss") -> AwsResources:
    table = f"{prefix}-records"
    bucket = f"{prefix}-audio"
    ddb = client(settings, "dynamodb")
    ddb.create_table(**create_table_kwargs(table))
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    s3 = client(settings, "s3")
    if settings.aws_region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region})
    idp = client(settings, "cognito-idp")
    pool = idp.create_user_pool(
        PoolName=f"{prefix}-users",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={
            "PasswordPolicy": {
                "MinimumLength": MIN_LENGTH,
                "RequireUppercase": False,
                "RequireLowercase": False,
                "RequireNumbers": False,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]
    app_client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=f"{prefix}-app",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]
    idp.create_group(UserPoolId=pool["Id"], GroupName="admin")
    return AwsResources(table, bucket, pool["Id"], app_client["ClientId"])


if __name__ == "__main__":
    res = create_resources(Settings())
    sys.stdout.write(
        f"DYNAMODB_TABLE={res.table}\nS3_AUDIO_BUCKET={res.audio_bucket}\n"
        f"COGNITO_USER_POOL_ID={res.user_pool_id}\nCOGNITO_CLIENT_ID={res.client_id}\n"
    )
