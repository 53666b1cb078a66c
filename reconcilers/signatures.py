"""HMAC helpers for webhook signatures, always compared in constant time.

Also stocksync's own upstream scheme: `X-Stocksync-Signature: sha256=<hex>` over
`<X-Stocksync-Timestamp>.<raw body>`, timestamp within a tolerance (replays of old requests refused).
Verifiers answer True/False (or a reason) for any input, never raise, and never echo a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds; ASCII only, bounded (int() of huge strings raises)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively, whether `headers` is aiohttp's CIMultiDict or a plain dict."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    return hmac.new(_key(secret), message, hashlib.sha256).digest()


def verify_hex(secret: str | bytes, message: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        presented = bytes.fromhex(signature.strip())
    except ValueError:
        return False
    return hmac.compare_digest(presented, hmac_sha256(secret, message))


def verify_base64(secret: str | bytes, message: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        presented = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(presented, hmac_sha256(secret, message))


def verify_signed_body(
    secret: str | None,
    headers: Mapping[str, str],
    header: str,
    body: bytes,
    *,
    encoding: str,
    signed_prefix: bytes = b"",
) -> bool:
    """A store webhook's HMAC-SHA256 of the raw body in `header` (`encoding` "hex" or "base64");
    False when the store has no secret configured. `signed_prefix`: what the platform signs before
    the body (Square: the subscription's notification URL)."""
    if not secret:
        return False
    verify = verify_hex if encoding == "hex" else verify_base64
    return verify(secret, signed_prefix + body, header_value(headers, header))


def verify_standard_webhook(
    key: bytes | None, headers: Mapping[str, str], body: bytes, now: float, tolerance_s: float = 300.0
) -> bool:
    """The Standard Webhooks scheme (standardwebhooks.com; BigCommerce, Etsy): `webhook-signature` lists space-separated
    `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<raw body>`; one match suffices
    and the timestamp must lie within the tolerance (replays refused). `key`: the HMAC key itself
    (what the library gets base64-encoded, `whsec_` prefix dropped); None or empty: refused."""
    message_id = (header_value(headers, "webhook-id") or "").strip()
    timestamp = (header_value(headers, "webhook-timestamp") or "").strip()
    signatures = header_value(headers, "webhook-signature") or ""
    if not key or not message_id or len(message_id) > 200 or not _TIMESTAMP.fullmatch(timestamp):
        return False
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = hmac_sha256(key, f"{message_id}.{timestamp}.".encode() + body)
    found = False
    for entry in signatures.split()[:20]:  # bounded: the header comes from the network
        version, _, digest = entry.partition(",")
        if version != "v1":
            continue
        try:
            presented = base64.b64decode(digest, validate=True)
        except (binascii.Error, ValueError):
            continue
        found = hmac.compare_digest(presented, expected) or found  # every entry compared alike
    return found


def standard_webhooks_key(secret: str | None) -> bytes | None:
    """The HMAC key of a Standard Webhooks signing secret (`whsec_<base64>`); None when unset."""
    if not secret:
        return None
    encoded = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded.encode()  # not base64: the text itself is the key


def sign_stocksync(secret: str | bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, f"{timestamp}.".encode() + body).hex()


def check_stocksync(
    secret: str | bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = 300.0,
) -> str | None:
    """None when the request is authentic and fresh, else the reason to refuse it."""
    if not timestamp:
        return "missing timestamp"
    timestamp = timestamp.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        return "bad timestamp"
    if abs(now - int(timestamp)) > tolerance_s:
        return "stale timestamp"
    if not signature:
        return "missing signature"
    scheme, _, digest = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not verify_hex(secret, f"{timestamp}.".encode() + body, digest):
        return "bad signature"
    return None
