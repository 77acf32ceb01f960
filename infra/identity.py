"""The Cognito user pool the identity adapter (`adapters/aws/cognito_identity.py`) talks to."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core.password_policy import MIN_LENGTH
from infra.config import StackConfig, resource_options

# The flows the identity adapter uses: password login and token refresh. No SRP, no hosted UI.
AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
ADMIN_GROUP = "admin"


class UserDirectory(pulumi.ComponentResource):
    """Family users: admins create them (no self sign-up); optional TOTP MFA."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("yss:identity:UserDirectory", name, None, opts)
        self.pool = aws.cognito.UserPool(
            name,
            admin_create_user_config={"allow_admin_create_user_only": True},
            # Length over character classes, the same rule the local side enforces.
            password_policy={
                "minimum_length": MIN_LENGTH,
                "require_lowercase": False,
                "require_uppercase": False,
                "require_numbers": False,
                "require_symbols": False,
                "temporary_password_validity_days": 3,
            },
            mfa_configuration="OPTIONAL",
            software_token_mfa_configuration={"enabled": True},
            # No e-mail/SMS sender is configured: an admin resets passwords.
            account_recovery_setting={"recovery_mechanisms": [{"name": "admin_only", "priority": 1}]},
            username_configuration={"case_sensitive": False},
            deletion_protection="ACTIVE" if config.production else "INACTIVE",
            user_pool_tier="LITE",
            opts=resource_options(config, self, data=True),
        )
        child = pulumi.ResourceOptions(parent=self)
        self.client = aws.cognito.UserPoolClient(
            f"{name}-app",
            user_pool_id=self.pool.id,
            generate_secret=False,
            explicit_auth_flows=list(AUTH_FLOWS),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=30,
            token_validity_units={"access_token": "minutes", "id_token": "minutes", "refresh_token": "days"},
            opts=child,
        )
        self.admin_group = aws.cognito.UserGroup(
            f"{name}-admin",
            name=ADMIN_GROUP,
            user_pool_id=self.pool.id,
            description="Family members who manage users and settings",
            opts=child,
        )
        self.register_outputs({"user_pool_id": self.pool.id, "client_id": self.client.id})
