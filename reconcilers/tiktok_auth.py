"""TikTok Shop: the signed request every API call is, and the shop's access token refreshed in memory.

Signing (Partner Center guide "Sign your API request"): the query parameters except `sign` and
`access_token`, sorted by name and written `{name}{value}` with no separators, follow the request
path; the raw body follows (JSON requests; never multipart); the whole is wrapped in the app secret on
both sides and `sign` = lower-case hex HMAC-SHA256 of it keyed with the app secret. The body is
serialized once and those exact bytes are both signed and sent. `timestamp` (unix seconds) must lie
within 5 minutes before and 30 s after TikTok's clock.
Every answer is the envelope {code, message, request_id, data}; code 0 is success, anything else is
an error even with HTTP 200 (documented codes: 36009002 throttled, 36009003/36009007 internal error or
timeout, 105002 token expired, 106001 bad sign, 36009004 / 101000 / 105005 / 36009033 credentials,
scope or IP allow list).
Tokens: `GET {auth host}/api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token`
answers a new access token, its expiry as a unix *timestamp* (`access_token_expire_in`) and a new
refresh token. The daemon cannot rewrite the credential file, so the refreshed pair is kept in this
process per store and credential (reconcilers/tokens.py) and outlives the per-pass reconcilers. Token values, the
app secret and signatures never reach a message or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from reconcilers.tokens import kept_token
from reconcilers.transport import AuthError, PermanentError, Response, TemporaryError, Transport

THROTTLED = frozenset({36009002})
INTERNAL = frozenset({36009003, 36009007})
EXPIRED = frozenset({105002})
CLOCK = 36009004  # also the code of a stale `timestamp` (5 min before .. 30 s after TikTok's clock)
REFUSED_CREDENTIALS = frozenset({101000, 105002, 105005, 106001, 36009004, 36009033})
NOT_SIGNED = frozenset({"sign", "access_token"})
THROTTLE_WAIT_S = 1.0  # a throttled answer names no wait: the limit is per second
EARLY_S = 300  # refresh this long before the announced expiry


def sign(app_secret: str, path: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """The `sign` query parameter of a request (see the module docstring for the recipe)."""
    pairs = "".join(f"{name}{params[name]}" for name in sorted(params) if name not in NOT_SIGNED)
    key = app_secret.encode()
    return hmac.new(key, key + path.encode() + pairs.encode() + body + key, hashlib.sha256).hexdigest()


def envelope_code(body: Any) -> int | None:
    """The envelope's code; None when the answer is not the envelope (or its code is not a number)."""
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _retry_wait(response: Response) -> float | None:
    """HTTP 200 that says 'throttled' or 'internal error, try again' is retried by the transport."""
    code = envelope_code(response.body)
    return THROTTLE_WAIT_S if code in THROTTLED or code in INTERNAL else None


def refusal(where: str, status: int, body: Any) -> Exception:
    """The transport error a non-zero envelope code (answered with HTTP `status`) stands for."""
    code = envelope_code(body)
    said = body.get("message") if isinstance(body, dict) else None
    text = f"{where}: HTTP {status}, TikTok code {code}: {' '.join(str(said or '').split())[:160]}"
    if code == CLOCK and "timestamp" in str(said).lower():  # our clock or a long wait: sign again later
        return TemporaryError(text)
    if code in REFUSED_CREDENTIALS:  # 401: a refresh may help (expired); 403: it cannot
        return AuthError(text, 401 if code in EXPIRED else 403, body=body)
    if code is None or code in THROTTLED or code in INTERNAL:
        return TemporaryError(text)
    return PermanentError(text, 400, body=body)


class TiktokApi:
    """Signed, shop-scoped POSTs with the shop's token; an expired or refused token is refreshed once."""

    def __init__(
        self, transport: Transport, base_url: str, auth_url: str, store_id: str, keys: Mapping[str, Any]
    ) -> None:
        self._transport, self._base, self._auth_url = transport, base_url, auth_url
        self._app_key, self._secret = str(keys["app_key"]), str(keys["app_secret"])
        self._cipher = str(keys["shop_cipher"])
        self.token = kept_token(store_id, str(keys["access_token"]), keys["refresh_token"])

    async def post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`data` of a successful answer; transport errors (auth / permanent / temporary) otherwise."""
        if self.token.expires_at is not None and time.time() >= self.token.expires_at:
            await self._refresh(self.token.access)
        used = self.token.access
        try:
            return await self._post(path, payload)
        except AuthError as exc:
            if exc.status != 401 or not self.token.refresh:
                raise
        await self._refresh(used)
        return await self._post(path, payload)

    async def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        params = {"app_key": self._app_key, "shop_cipher": self._cipher, "timestamp": str(int(time.time()))}
        params["sign"] = sign(self._secret, path, params, raw)
        headers = {"Content-Type": "application/json", "x-tts-access-token": self.token.access}
        try:
            answer = await self._transport.request(
                "POST", self._base + path, params=params, data=raw, headers=headers, retry_if=_retry_wait
            )
        except PermanentError as exc:  # HTTP 4xx carrying the envelope: judged by its code
            if envelope_code(exc.body) is None:
                raise
            raise refusal(f"POST {path}", exc.status or 400, exc.body) from None
        if envelope_code(answer.body) != 0:
            raise refusal(f"POST {path}", answer.status, answer.body)
        data = answer.body.get("data")
        return data if isinstance(data, dict) else {}

    async def _refresh(self, stale: str) -> None:
        async with self.token.lock:
            if self.token.access != stale:
                return  # another request of this store refreshed it already
            if not self.token.refresh:
                raise AuthError(
                    "tiktok: the access token expired and the credential has no refresh_token", 401
                )
            query = {
                "app_key": self._app_key,
                "app_secret": self._secret,
                "refresh_token": self.token.refresh,
                "grant_type": "refresh_token",
            }
            try:
                answer = await self._transport.request("GET", self._auth_url, params=query)
            except PermanentError as exc:
                raise AuthError(
                    f"tiktok: token refresh refused (HTTP {exc.status}): authorize again", 401
                ) from None
            if envelope_code(answer.body) != 0:
                code = envelope_code(answer.body)
                raise AuthError(f"tiktok: token refresh refused (code {code}): authorize the shop again", 401)
            data = answer.body.get("data") if isinstance(answer.body, dict) else None
            data = data if isinstance(data, dict) else {}
            access, renewed, expiry = (
                data.get("access_token"),
                data.get("refresh_token"),
                data.get("access_token_expire_in"),
            )
            if not isinstance(access, str) or not access:
                raise TemporaryError("tiktok: the token refresh answered no access_token")
            self.token.access = access
            if isinstance(renewed, str) and renewed:
                self.token.refresh = renewed
            if isinstance(expiry, int) and not isinstance(expiry, bool) and expiry > 0:
                self.token.expires_at = float(expiry) - EARLY_S
            else:
                self.token.expires_at = None
