"""A valid Yoto access token per linked account, with at most one refresh in flight.

Yoto rotates refresh tokens, and a rotating issuer may treat a refresh token
used twice as stolen and revoke the whole chain. Every process (API, Lambda
containers, the MQTT handler) therefore coordinates through the records store:

1. A caller whose stored access token is about to expire takes a lease: an
   atomic counter keyed by account AND token version, whose `add` answers 1
   to exactly one caller. The lease expires after `lease_s`, so a winner that
   dies mid-refresh holds the others up for at most that long.
2. The winner re-reads (someone may have finished meanwhile), refreshes once,
   and stores the new tokens with compare-and-swap on the version it read.
3. Losers never refresh with the token they read: they keep using it while it
   is still valid, otherwise wait briefly and re-read until the stored version
   moves on, then use the winner's tokens.

`lease_s` must exceed the longest a single refresh call can take (the client's
timeout plus its retry budget) or a slow winner and a second one could both
send the same refresh token. A winner that dies after Yoto rotated the token
but before storing it leaves a used refresh token behind: the next refresh is
refused and the account must be relinked; nothing here can avoid that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from core.errors import AlreadyExists, NotFound, RelinkNeeded, UpstreamRejected, UpstreamTimeout, VersionConflict
from core.ports import CounterRepository, TokenRepository
from core.records import YotoTokens, utcnow
from core.yoto.cloud import NOT_LINKED_MESSAGE, RELINK_MESSAGE, AccessTokenRejected, TokenGrant

T = TypeVar("T")


class TokenRefresher(Protocol):
    """The part of `core.yoto.cloud.YotoCloud` this service needs."""

    def refresh(self, refresh_token: str) -> TokenGrant: ...


class YotoTokenService:
    def __init__(
        self,
        tokens: TokenRepository,
        counters: CounterRepository,
        cloud: TokenRefresher,
        *,
        refresh_ahead_s: int = 300,
        lease_s: int = 60,
        wait_s: float = 20.0,
        poll_s: float = 0.02,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._tokens = tokens
        self._counters = counters
        self._cloud = cloud
        self._ahead = timedelta(seconds=refresh_ahead_s)
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._now = now
        self._sleep = sleep

    # ------------------------------------------------------------------ linking

    def store_new_link(self, account: str, grant: TokenGrant) -> YotoTokens:
        """Keep the tokens of a fresh login, replacing any earlier link of the account."""
        if not grant.refresh_token:
            raise UpstreamRejected("Yoto gave no refresh token: the login must ask for offline_access")
        new = YotoTokens(
            account=account,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at(self._now()),
            updated_at=self._now(),
        )
        for _ in range(5):
            try:
                self._tokens.create(new)
                return new
            except AlreadyExists:
                pass
            try:
                current = self._tokens.get(account)
                return self._tokens.compare_and_swap(new, expected_version=current.version)
            except (NotFound, VersionConflict):
                continue
        raise VersionConflict(f"the Yoto link of {account!r} kept changing; try again")

    def unlink(self, account: str) -> bool:
        """Forget the account's tokens; False when none were stored."""
        try:
            self._tokens.delete(account)
        except NotFound:
            return False
        return True

    def is_linked(self, account: str) -> bool:
        try:
            self._tokens.get(account)
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------ tokens

    def access_token(self, account: str) -> str:
        """A valid access token, refreshed (once, across processes) ahead of expiry.
        `RelinkNeeded` when nothing is linked or Yoto refuses the refresh token."""
        stored = self._read(account)
        # Ahead by at most half the token's life, so short-lived tokens are not renewed on every call.
        ahead = max(timedelta(0), min(self._ahead, (stored.expires_at - stored.updated_at) / 2))
        if stored.expires_at - ahead > self._now():
            return stored.access_token
        return self._renew(account, stored, rejected=False).access_token

    def renew_rejected(self, account: str, rejected_token: str) -> str:
        """A new access token after Yoto answered 401 to `rejected_token`: the
        stored one if another caller already replaced it, else a refresh."""
        stored = self._read(account)
        if stored.access_token != rejected_token:
            return stored.access_token
        return self._renew(account, stored, rejected=True).access_token

    def call(self, account: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """`fn(token, *args, **kwargs)` with the account's token; on a 401 once more
        with a renewed token, and a second 401 is `RelinkNeeded`.

        e.g. `tokens.call(user, cloud.get_card, card_id)`."""
        token = self.access_token(account)
        try:
            return fn(token, *args, **kwargs)
        except AccessTokenRejected:
            token = self.renew_rejected(account, token)
        try:
            return fn(token, *args, **kwargs)
        except AccessTokenRejected as exc:
            raise RelinkNeeded(RELINK_MESSAGE) from exc

    # ------------------------------------------------------------------ the single refresh

    def _read(self, account: str) -> YotoTokens:
        try:
            return self._tokens.get(account)
        except NotFound:
            raise RelinkNeeded(NOT_LINKED_MESSAGE) from None

    @staticmethod
    def _lease_key(account: str, version: int) -> str:
        return f"yoto-refresh:{account}:{version}"

    @staticmethod
    def _refused_key(account: str, version: int) -> str:
        return f"yoto-refused:{account}:{version}"

    def _renew(self, account: str, stale: YotoTokens, *, rejected: bool) -> YotoTokens:
        deadline = time.monotonic() + self._wait_s
        delay = self._poll_s
        while True:
            current = self._read(account)
            if current.version != stale.version:
                if current.expires_at > self._now():
                    return current
                stale, rejected = current, False  # moved on, yet expired already: renew that one
                continue
            try:
                won = self._counters.add(self._lease_key(account, stale.version), 1, ttl_s=self._lease_s) == 1
            except VersionConflict:
                won = False  # the counter was contended: someone else holds or takes the lease
            if won:
                return self._refresh_as_winner(account, stale)
            if not rejected and stale.expires_at > self._now():
                return stale  # still accepted while the winner renews it
            if self._counters.get(self._refused_key(account, stale.version)):
                raise RelinkNeeded(RELINK_MESSAGE)  # the winner's refresh was refused: ours would be too
            if time.monotonic() + delay > deadline:
                raise UpstreamTimeout("another request is renewing the Yoto token and has not finished; try again")
            self._sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, 0.25)

    def _refresh_as_winner(self, account: str, stale: YotoTokens) -> YotoTokens:
        lease = self._lease_key(account, stale.version)
        current = self._read(account)
        if current.version != stale.version:
            return current  # finished by a winner whose lease ran out just before ours began
        try:
            grant = self._cloud.refresh(stale.refresh_token)
        except RelinkNeeded:
            self._counters.add(self._refused_key(account, stale.version), 1, ttl_s=self._lease_s)
            raise
        except Exception:
            self._counters.reset(lease)  # nothing was stored: the next caller may try
            raise
        new = YotoTokens(
            account=account,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token or stale.refresh_token,
            expires_at=grant.expires_at(self._now()),
            version=stale.version,
            updated_at=self._now(),
        )
        try:
            return self._tokens.compare_and_swap(new, expected_version=stale.version)
        except VersionConflict:
            return self._read(account)  # relinked meanwhile: the new link wins
        except NotFound:
            raise RelinkNeeded(NOT_LINKED_MESSAGE) from None
