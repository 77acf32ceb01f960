"""Family users in the Cognito user pool; admins are the members of group `admin`.

Users are made by an admin (the pool allows no self sign-up):
AdminCreateUser with the invitation suppressed, then AdminSetUserPassword with
Permanent=True so the first login needs no password-change challenge. If any
step after the create fails, the user is deleted again, so a refused password
leaves no half-made account behind.

Passwords are checked by Cognito itself (InitiateAuth, USER_PASSWORD_AUTH,
through the app client). The pool's client has PreventUserExistenceErrors on,
so an unknown user and a wrong password already look the same; any challenge
(new password, MFA) is treated as a failed login because the app cannot
answer one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from adapters.aws.clients import client
from adapters.local.identity import check_password
from core.errors import AdapterError, AlreadyExists, BackendUnavailable, ConfigError, NotFound
from core.password_policy import MAX_LENGTH
from core.records import User, utcnow
from core.settings import Settings
from core.usernames import canonical_username

ADMIN_GROUP = "admin"
_LOGIN_REFUSED = {
    "NotAuthorizedException",
    "UserNotFoundException",
    "PasswordResetRequiredException",
    "UserNotConfirmedException",
    "InvalidParameterException",
}


class CognitoIdentity:
    """The `Identity` port on a Cognito user pool."""

    def __init__(self, settings: Settings) -> None:
        if not settings.cognito_user_pool_id or not settings.cognito_client_id:
            raise ConfigError("USE_AWS=true needs COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID to be set")
        self.pool_id = settings.cognito_user_pool_id
        self.client_id = settings.cognito_client_id
        self._idp = client(settings, "cognito-idp")

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        name = canonical_username(username)
        check_password(password)
        try:
            made = self._call("admin_create_user", UserPoolId=self.pool_id, Username=name, MessageAction="SUPPRESS")
        except _Refused as refused:
            if refused.code == "UsernameExistsException":
                raise AlreadyExists(f"user {name!r} already exists") from None
            if refused.code == "InvalidParameterException":
                raise ValueError(f"user refused by the user pool: {refused.message}") from None
            raise
        try:
            self._set_password(name, password)
            if is_admin:
                self._call("admin_add_user_to_group", UserPoolId=self.pool_id, Username=name, GroupName=ADMIN_GROUP)
        except BaseException:
            with contextlib.suppress(AdapterError):
                self._call("admin_delete_user", UserPoolId=self.pool_id, Username=name)
            raise
        created = made.get("User", {}).get("UserCreateDate")
        return User(username=name, is_admin=is_admin, disabled=False, created_at=_aware(created))

    def authenticate(self, username: str, password: str) -> User | None:
        try:
            name = canonical_username(username)
        except ValueError:
            return None  # such a name cannot exist, so refusing at once reveals nothing
        if not password or len(password) > MAX_LENGTH:
            return None
        try:
            answer = self._call(
                "initiate_auth",
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=self.client_id,
                AuthParameters={"USERNAME": name, "PASSWORD": password},
            )
        except _Refused as refused:
            if refused.code in _LOGIN_REFUSED:
                return None
            raise
        if answer.get("ChallengeName") or "AuthenticationResult" not in answer:
            return None
        try:
            user = self.get_user(name)
        except NotFound:
            return None
        return None if user.disabled else user

    def get_user(self, username: str) -> User:
        name = canonical_username(username)
        answer = self._user_call("admin_get_user", name)
        groups = self._user_call("admin_list_groups_for_user", name, Limit=60).get("Groups", [])
        return User(
            username=name,
            is_admin=any(g.get("GroupName") == ADMIN_GROUP for g in groups),
            disabled=not answer.get("Enabled", True),
            created_at=_aware(answer.get("UserCreateDate")),
        )

    def list_users(self) -> list[User]:
        admins = {u["Username"] for u in self._pages("list_users_in_group", "NextToken", GroupName=ADMIN_GROUP)}
        users = [
            User(
                username=u["Username"],
                is_admin=u["Username"] in admins,
                disabled=not u.get("Enabled", True),
                created_at=_aware(u.get("UserCreateDate")),
            )
            for u in self._pages("list_users", "PaginationToken")
        ]
        return sorted(users, key=lambda u: u.username)

    def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        name = canonical_username(username)
        if password is not None:
            check_password(password)
        self._user_call("admin_get_user", name)  # NotFound before changing anything
        if password is not None:
            self._set_password(name, password)
        if is_admin is not None:
            method = "admin_add_user_to_group" if is_admin else "admin_remove_user_from_group"
            self._user_call(method, name, GroupName=ADMIN_GROUP)
        if disabled is not None:
            self._user_call("admin_disable_user" if disabled else "admin_enable_user", name)
        return self.get_user(name)

    def delete_user(self, username: str) -> None:
        self._user_call("admin_delete_user", canonical_username(username))

    def password_hash(self, username: str) -> str | None:
        """Cognito never hands out a password or its hash."""
        self._user_call("admin_get_user", canonical_username(username))  # NotFound for no user
        return None

    # ------------------------------------------------------------------ helpers

    def _set_password(self, name: str, password: str) -> None:
        try:
            self._user_call("admin_set_user_password", name, Password=password, Permanent=True)
        except _Refused as refused:
            if refused.code == "InvalidPasswordException":
                raise ValueError(f"password refused by the user pool: {refused.message}") from None
            raise

    def _user_call(self, method: str, name: str, **kwargs: Any) -> Any:
        try:
            return self._call(method, UserPoolId=self.pool_id, Username=name, **kwargs)
        except _Refused as refused:
            if refused.code == "UserNotFoundException":
                raise NotFound(f"no user {name!r}") from None
            raise

    def _pages(self, method: str, token_name: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            extra = {token_name: token} if token else {}
            answer = self._call(method, UserPoolId=self.pool_id, Limit=60, **kwargs, **extra)
            yield from answer.get("Users", [])
            token = answer.get(token_name)
            if not token:
                return

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError, EndpointConnectionError

        try:
            return getattr(self._idp, method)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise _Refused(str(error.get("Code", "")), str(error.get("Message", exc))) from exc
        except EndpointConnectionError as exc:
            raise BackendUnavailable(f"Cognito cannot be reached: {exc}") from exc


class _Refused(AdapterError):
    """A Cognito error answer, before it is mapped onto the port's errors."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _aware(value: datetime | None) -> datetime:
    return value.astimezone(UTC) if value is not None else utcnow()
