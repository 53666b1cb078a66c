"""Request authentication: admin bearer token and stocksync's own HMAC-signed upstream webhooks."""

from __future__ import annotations

import hmac
import time

from aiohttp import web

from daemon.credentials import ADMIN_TOKEN, WEBHOOK_SECRET
from daemon.logs import get_logger
from daemon.web.context import LOGIN_THROTTLE, SERVICES
from daemon.web.errors import error_body
from reconcilers.signatures import check_stocksync


def admin_refusal(request: web.Request) -> web.Response | None:
    """None when the request carries the admin bearer token, else the 401 (or, after repeated wrong
    tokens from the same address, the 429) to send. Wrong tokens count like failed sign-ins: a script
    guessing the token gets a handful of tries per quarter hour, and each failure is logged."""
    token = request.app[SERVICES].credentials.load_optional(ADMIN_TOKEN)
    if token is None:
        return error_body(401, f"admin API disabled: credential {ADMIN_TOKEN!r} is not configured")
    header = request.headers.get("Authorization", "")
    address = request.remote or "unknown"
    throttle = request.app[LOGIN_THROTTLE]
    if header and (wait := throttle.wait_s(address, time.monotonic())) > 0:
        response = error_body(429, "too many wrong tokens from this address; try again later")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.reveal().encode()):
        if header:  # an attempt, not a request that simply carries no token
            failures = throttle.failed(address, time.monotonic())
            get_logger().warning("admin_auth_failed", client=address, failures_in_window=failures)
        return error_body(401, "missing or wrong bearer token")
    return None


async def signed_body(request: web.Request) -> bytes | web.Response:
    """The raw body when its stocksync signature is valid, else the error response to send."""
    secret = request.app[SERVICES].credentials.load_optional(WEBHOOK_SECRET)
    if secret is None:
        return error_body(503, f"credential {WEBHOOK_SECRET!r} is not configured; nothing accepted")
    body = await request.read()
    reason = check_stocksync(
        secret.reveal(),
        request.headers.get("X-Stocksync-Timestamp"),
        request.headers.get("X-Stocksync-Signature"),
        body,
        now=time.time(),
    )
    if reason is not None:
        return error_body(401, reason)
    return body
