"""Etsy OAuth 2.0 for one store: the request headers and the refresh of an expired access token.

Every call carries `x-api-key: <keystring>:<shared secret>` (the shared secret is required since 2026;
a keystring alone is sent when the credential has none) and `Authorization: Bearer <access token>`.
Access tokens last an hour; `POST https://api.etsy.com/v3/public/oauth/token` with
grant_type=refresh_token gives a new one and a new refresh token. The daemon cannot write the
credential file, so refreshed tokens live in this process (reconcilers/tokens.py, per store and credential) and
outlive the per-pass reconcilers; after a restart the credential file's refresh token is used again,
so it must still be valid (Etsy's last 90 days). Token values never reach a message or a log.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from reconcilers.tokens import kept_token
from reconcilers.transport import AuthError, PermanentError, Response, TemporaryError, Transport

EARLY_S = 60  # refresh this long before the announced expiry


class EtsyAuth:
    """The app key and the shop's token, refreshed when expired or refused."""

    def __init__(
        self, transport: Transport, token_url: str, store_id: str, keys: dict[str, str | None]
    ) -> None:
        self._transport, self._token_url = transport, token_url
        self._client_id = str(keys["keystring"])
        secret = keys["shared_secret"]
        self._api_key = f"{self._client_id}:{secret}" if secret else self._client_id
        self.token = kept_token(store_id, str(keys["access_token"]), keys["refresh_token"])

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key, "Authorization": f"Bearer {self.token.access}"}

    @property
    def can_refresh(self) -> bool:
        return bool(self.token.refresh)

    @property
    def expired(self) -> bool:
        return self.token.expires_at is not None and time.time() >= self.token.expires_at

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """One API request with the app key and the shop's token; an expired or refused token is
        refreshed once (a 403 is a scope or key problem: refreshing cannot help)."""
        if self.expired:
            await self.refresh(self.token.access)
        extra = kwargs.pop("headers", {})
        used = self.token.access
        try:
            return await self._transport.request(method, url, headers=self.headers() | extra, **kwargs)
        except AuthError as exc:
            if exc.status != 401 or not self.can_refresh:
                raise
        await self.refresh(used)
        return await self._transport.request(method, url, headers=self.headers() | extra, **kwargs)

    async def refresh(self, stale: str) -> None:
        """Replace the access token `stale` (unless another request of this store already did)."""
        async with self.token.lock:
            if self.token.access == stale:
                await self._refresh()

    async def _refresh(self) -> None:
        """grant_type=refresh_token; the answer's tokens replace the old ones for this store."""
        if not self.token.refresh:
            raise AuthError("etsy: the access token expired and the credential has no refresh_token", 401)
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "refresh_token": self.token.refresh,
        }
        try:
            response = await self._transport.request(
                "POST",
                self._token_url,
                data=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded", "x-api-key": self._api_key},
            )
        except PermanentError as exc:  # invalid_grant: the shop must authorize the app again
            raise AuthError(
                f"etsy: token refresh refused (HTTP {exc.status}): re-authorize the shop", 401
            ) from None
        body = response.body if isinstance(response.body, dict) else {}
        access, renewed, lifetime = (
            body.get("access_token"),
            body.get("refresh_token"),
            body.get("expires_in"),
        )
        if not isinstance(access, str) or not access:
            raise TemporaryError("etsy: the token refresh answered no access_token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int):
            lifetime = 3600
        self.token.access = access
        if isinstance(renewed, str) and renewed:
            self.token.refresh = renewed
        self.token.expires_at = time.time() + max(lifetime - EARLY_S, 0)
