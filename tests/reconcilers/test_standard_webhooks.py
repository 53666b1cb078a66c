"""Standard Webhooks signatures (reconcilers.signatures.verify_standard_webhook) against vectors computed
here with hmac directly."""

from __future__ import annotations

import base64
import hashlib
import hmac

from multidict import CIMultiDict

from reconcilers.signatures import standard_webhooks_key, verify_standard_webhook

KEY = b"standard-webhooks-test-key"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = b'{"event_type":"inventory.updated"}'
NOW = 1_765_000_000


def _headers(
    delivery: str = "msg_1", stamp: int = NOW, body: bytes = BODY, key: bytes = KEY
) -> dict[str, str]:
    digest = hmac.new(key, f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def test_the_key_is_the_base64_part_of_the_secret() -> None:
    assert standard_webhooks_key(SECRET) == KEY
    assert standard_webhooks_key("not base64!") == b"not base64!"
    assert standard_webhooks_key(None) is None and standard_webhooks_key("") is None


def test_a_signed_delivery_passes_and_any_change_fails() -> None:
    key = standard_webhooks_key(SECRET)
    assert verify_standard_webhook(key, _headers(), BODY, NOW)
    assert verify_standard_webhook(key, CIMultiDict(_headers()), BODY, NOW + 299)
    assert not verify_standard_webhook(key, _headers(), BODY + b" ", NOW)
    assert not verify_standard_webhook(key, {**_headers(), "webhook-id": "msg_2"}, BODY, NOW)
    assert not verify_standard_webhook(key, _headers(key=b"another"), BODY, NOW)
    assert not verify_standard_webhook(None, _headers(), BODY, NOW)


def test_one_matching_signature_among_several_passes() -> None:
    headers = _headers()
    headers["webhook-signature"] = "v1,AAAA v2,xyz " + headers["webhook-signature"]
    assert verify_standard_webhook(KEY, headers, BODY, NOW)
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v9,")
    assert not verify_standard_webhook(KEY, headers, BODY, NOW)


def test_stale_missing_or_malformed_headers_fail() -> None:
    assert not verify_standard_webhook(KEY, _headers(stamp=NOW - 301), BODY, NOW)
    assert not verify_standard_webhook(KEY, {**_headers(), "webhook-timestamp": "１２"}, BODY, NOW)
    assert not verify_standard_webhook(KEY, {**_headers(), "webhook-signature": "v1,%%%"}, BODY, NOW)
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = _headers()
        del headers[name]
        assert not verify_standard_webhook(KEY, headers, BODY, NOW)
