"""Browser sessions for the drift pages: an HMAC-signed expiry in a cookie, and a CSRF token per session.

The cookie never holds the admin token itself; both values are derived from it, so rotating the
admin-token credential logs every browser out; logout revokes one session in the database
(daemon/db/sessions.py), so a copied cookie dies with it.
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE = "stocksync_session"
TTL_S = 8 * 3600


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def new_session(token: str, now: float) -> str:
    expiry = int(now + TTL_S)
    return f"{expiry}.{_mac(token, f'drift-session:{expiry}')}"


def session_valid(token: str, value: str | None, now: float) -> bool:
    if not value or "." not in value:
        return False
    expiry, _, mac = value.partition(".")
    if not expiry.isdigit() or int(expiry) < now:
        return False
    return hmac.compare_digest(mac, _mac(token, f"drift-session:{expiry}"))


def csrf_token(token: str, session: str) -> str:
    return _mac(token, f"csrf:{session}")


def csrf_valid(token: str, session: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(str(presented), csrf_token(token, session))


def expiry(value: str) -> int:
    """The expiry (unix seconds) of a valid session value."""
    return int(value.partition(".")[0])


def digest(value: str) -> str:
    """What the database keeps of a revoked session: enough to recognise it, useless as a cookie."""
    return hashlib.sha256(value.encode()).hexdigest()
