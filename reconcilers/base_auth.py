"""BASE OAuth 2.0 for one shop: the Bearer header and the refresh of an expired access token.

Access tokens last an hour (`expires_in: 3600`), refresh tokens about 30 days. `POST /1/oauth/token`
(form: grant_type=refresh_token, client_id, client_secret, refresh_token, redirect_uri) answers a new
access token and a new refresh token. BASE refuses a bad or expired token with HTTP 400
`invalid_request` (not 401): that answer is refreshed once, and a refusal that survives it, or a
refused refresh, is an AuthError (the shop must authorize the app again). The daemon cannot write the
credential file, so refreshed tokens live in this process (reconcilers/tokens.py, per store and credential) and
outlive the per-pass reconcilers. Token values never reach a message or a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from reconcilers.base_items import TOKEN_REFUSED, error_code
from reconcilers.tokens import kept_token
from reconcilers.transport import AuthError, PermanentError, Response, TemporaryError, Transport

EARLY_S = 120  # refresh this long before the announced expiry
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _refused(what: str) -> AuthError:
    # BASE says 400; the engine and support read auth failures as 401
    return AuthError(
        f"base: {what} (HTTP 400 invalid_request, an HTTP 401 in effect): re-authorize the shop", 401
    )


class BaseAuth:
    """The shop's token, refreshed when it expires or BASE refuses it."""

    def __init__(
        self, transport: Transport, token_url: str, store_id: str, keys: dict[str, str | None]
    ) -> None:
        self._transport, self._token_url = transport, token_url
        self._client = {k: str(keys[k]) for k in ("client_id", "client_secret", "redirect_uri")}
        self.token = kept_token(store_id, keys["access_token"] or "", str(keys["refresh_token"]))

    async def request(
        self, method: str, url: str, throttled_if: Callable[[Response], float | None], **kwargs: Any
    ) -> Response:
        """One API request with the shop's token; an expired or refused token is refreshed once."""
        if not self.token.access or (self.token.expires_at or float("inf")) <= time.time():
            await self.refresh(self.token.access)
        for attempt in (1, 2):
            used = self.token.access
            headers = {"Authorization": f"Bearer {used}", **kwargs.pop("headers", {})}
            try:
                return await self._transport.request(
                    method, url, headers=headers, throttled_if=throttled_if, **kwargs
                )
            except PermanentError as exc:
                code = error_code(exc.body)
                if code == "invalid_scope":
                    raise AuthError("base: the token lacks a scope (read_items, write_items)", 403) from None
                if code not in TOKEN_REFUSED or isinstance(exc, AuthError):
                    raise
                if attempt == 2:
                    raise _refused("the refreshed access token was refused") from None
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            await self.refresh(used)
        raise AssertionError("unreachable")  # pragma: no cover

    async def refresh(self, stale: str | None) -> None:
        """Replace the access token `stale` (unless another request of this shop already did)."""
        async with self.token.lock:
            if self.token.refused:
                raise _refused("the refresh token was refused")
            if self.token.access == stale:
                await self._refresh()

    async def _refresh(self) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": self.token.refresh, **self._client}
        try:
            response = await self._transport.request(
                "POST", self._token_url, data=urlencode(form).encode(), headers=FORM
            )
        except PermanentError:  # an expired or revoked refresh token: only authorizing again helps
            self.token.refused = True
            raise _refused("the token refresh was refused") from None
        granted = _granted(response.body)
        if granted is None:
            raise TemporaryError("base: the token refresh answered no access_token")
        self.token.access, renewed, lifetime = granted
        self.token.refresh = renewed or self.token.refresh
        self.token.expires_at = time.time() + max(lifetime - EARLY_S, 0)


def _granted(body: Any) -> tuple[str, str | None, int] | None:
    """(access token, the new refresh token if any, lifetime in seconds) of a token answer; None when it
    holds no access token. BASE documents `expires_in: 3600`; a missing one is taken as that."""
    access = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(access, str) or not access:
        return None
    renewed, lifetime = body.get("refresh_token"), body.get("expires_in")
    known = isinstance(lifetime, int) and not isinstance(lifetime, bool)
    return access, renewed if isinstance(renewed, str) and renewed else None, lifetime if known else 3600
