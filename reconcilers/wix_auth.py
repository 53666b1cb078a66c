"""How a Wix store's requests authenticate (see reconcilers/wix.py and README "Wix setup").

Three credentials, all sent as is in `Authorization` (Wix uses no "Bearer" prefix there):
- `api_key`: a site owner's API key; it needs the site named by `wix-site-id` (setting `site_id`).
- `app_secret`: our Wix app's secret. Access tokens are created with the OAuth client-credentials
  call (`POST /oauth2/token` with app id, app secret and the app instance id; tokens last 4 hours),
  once per reconciler (one pass) and again when close to expiry.
- `access_token`: a token minted elsewhere (it expires: the other two suit a daemon better).
The secrets never reach a message: the transport redacts what requests carry in headers, and the
token call's refusal is reported by status only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from daemon.errors import CredentialError
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import ReconcilerContext
from reconcilers.settings import StoreSettings
from reconcilers.transport import AuthError, PermanentError, TemporaryError

if TYPE_CHECKING:
    from reconcilers.transport import Transport

TOKEN_PATH = "/oauth2/token"
RENEW_BEFORE_S = 300.0  # a token this close to its expiry is replaced before use


class WixAuth:
    """The `Authorization` (and `wix-site-id`) headers of one store, minting app tokens when needed."""

    def __init__(self, context: ReconcilerContext, settings: StoreSettings, base: str) -> None:
        keys = credential_fields(context, [], ["api_key", "app_secret", "access_token", "public_key"])
        self.public_pem = keys["public_key"]
        self._static: dict[str, str] | None = None
        self._mint: dict[str, str] | None = None
        if keys["api_key"]:
            site = settings.ident("site_id", "the Wix site id (API key auth)")
            self._static = {"Authorization": keys["api_key"], "wix-site-id": site}
        elif keys["app_secret"]:
            self._mint = {
                "grant_type": "client_credentials",
                "client_id": settings.ident("app_id", "our Wix app id (app secret auth)"),
                "client_secret": keys["app_secret"],
                "instance_id": settings.ident("instance_id", "the app instance id (app secret auth)"),
            }
        elif keys["access_token"]:
            self._static = {"Authorization": keys["access_token"]}
        else:
            name = context.credential.name
            raise CredentialError(f"credential {name!r}: 'api_key', 'app_secret' or 'access_token' needed")
        self._url = base + TOKEN_PATH
        self._token: tuple[str, float] | None = None  # minted token and its expiry (monotonic)

    async def headers(self, transport: Transport) -> dict[str, str]:
        if self._static is not None:
            return self._static
        if self._token is None or time.monotonic() > self._token[1] - RENEW_BEFORE_S:
            self._token = await self._create(transport)
        return {"Authorization": self._token[0]}

    async def _create(self, transport: Transport) -> tuple[str, float]:
        try:
            answer: Any = (await transport.request("POST", self._url, json=self._mint)).body
        except PermanentError as exc:  # the app id, secret or instance was refused: a credential matter
            raise AuthError(f"POST {TOKEN_PATH}: HTTP {exc.status}: app token refused", exc.status) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        lifetime = answer.get("expires_in") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TemporaryError(f"POST {TOKEN_PATH}: the answer has no access_token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = 14_400  # documented: always 4 hours
        return token, time.monotonic() + float(lifetime)
