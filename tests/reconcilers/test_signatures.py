"""HMAC helpers against vectors computed here with hmac directly, and stocksync's own webhook scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from multidict import CIMultiDict

from reconcilers.signatures import (
    check_stocksync,
    header_value,
    hmac_sha256,
    sign_stocksync,
    verify_base64,
    verify_hex,
    verify_signed_body,
)

BODY = b'{"id": 42, "inventory_quantity": 0}'
SECRET = "whsec_test_0123456789"
NOW = 1_800_000_000


def reference(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def test_hmac_sha256_matches_the_standard_library_for_str_and_bytes_keys() -> None:
    assert hmac_sha256(SECRET, BODY) == reference(SECRET, BODY)
    assert hmac_sha256(SECRET.encode(), BODY) == reference(SECRET, BODY)
    # RFC 4231 test case 2
    assert hmac_sha256("Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@pytest.mark.parametrize("transform", [str.lower, str.upper, lambda s: f"  {s}\n"])
def test_verify_hex_accepts_either_case_and_surrounding_space(transform: object) -> None:
    signature = transform(reference(SECRET, BODY).hex())  # type: ignore[operator]
    assert verify_hex(SECRET, BODY, signature)


def test_verify_base64_accepts_the_right_signature() -> None:
    assert verify_base64(SECRET, BODY, base64.b64encode(reference(SECRET, BODY)).decode())


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "tampered body", "missing", "empty", "not encoded", "truncated", "non-ascii"],
)
def test_verifiers_refuse_without_raising(case: str) -> None:
    digest = reference(SECRET, BODY)
    secret, body = ("other_secret" if case == "wrong secret" else SECRET), BODY
    if case == "tampered body":
        body = BODY.replace(b"0}", b"5}")
    hex_sig: str | None = digest.hex()
    b64_sig: str | None = base64.b64encode(digest).decode()
    if case == "missing":
        hex_sig = b64_sig = None
    elif case == "empty":
        hex_sig = b64_sig = ""
    elif case == "not encoded":
        hex_sig = b64_sig = "%%% not a signature %%%"
    elif case == "truncated":
        hex_sig, b64_sig = digest.hex()[:-2], base64.b64encode(digest[:-1]).decode()
    elif case == "non-ascii":
        hex_sig = b64_sig = "é" * 44
    assert verify_hex(secret, body, hex_sig) is False
    assert verify_base64(secret, body, b64_sig) is False


def test_sign_stocksync_is_sha256_hex_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_stocksync(SECRET, NOW, BODY) == f"sha256={expected}"


def test_check_stocksync_accepts_fresh_signed_requests_on_both_sides_of_now() -> None:
    signature = sign_stocksync(SECRET, NOW, BODY)
    assert check_stocksync(SECRET, str(NOW), signature, BODY, now=NOW) is None
    assert check_stocksync(SECRET, str(NOW), signature, BODY, now=NOW + 300) is None
    assert check_stocksync(SECRET, str(NOW), signature, BODY, now=NOW - 300) is None  # sender clock ahead
    assert (
        check_stocksync(SECRET, f" {NOW} ", signature.upper().replace("SHA256", "sha256"), BODY, NOW) is None
    )


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now", "reason"),
    [
        (None, "ok", BODY, NOW, "missing timestamp"),
        ("", "ok", BODY, NOW, "missing timestamp"),
        ("12ab", "ok", BODY, NOW, "bad timestamp"),
        ("-5", "ok", BODY, NOW, "bad timestamp"),
        ("1.5", "ok", BODY, NOW, "bad timestamp"),
        ("9" * 5000, "ok", BODY, NOW, "bad timestamp"),  # int() of this would raise, not refuse
        ("\u00b2", "ok", BODY, NOW, "bad timestamp"),  # a unicode "digit"
        (str(NOW), "ok", BODY, NOW + 301, "stale timestamp"),
        (str(NOW), "ok", BODY, NOW - 301, "stale timestamp"),
        (str(NOW), None, BODY, NOW, "missing signature"),
        (str(NOW), "", BODY, NOW, "missing signature"),
        (str(NOW), "ok", BODY + b" ", NOW, "bad signature"),
        (str(NOW), "bare-hex", BODY, NOW, "bad signature"),  # the "sha256=" prefix is required
        (str(NOW), "sha1=", BODY, NOW, "bad signature"),
        (str(NOW), "wrong-secret", BODY, NOW, "bad signature"),
        (str(NOW + 1), "ok", BODY, NOW, "bad signature"),  # signed for another timestamp
    ],
)
def test_check_stocksync_names_the_reason(
    timestamp: str | None, signature: str | None, body: bytes, now: float, reason: str
) -> None:
    good = sign_stocksync(SECRET, NOW, BODY)
    presented = {
        "ok": good,
        "bare-hex": good.removeprefix("sha256="),
        "sha1=": "sha1=" + hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha1).hexdigest(),
        "wrong-secret": sign_stocksync("another", NOW, BODY),
    }.get(signature or "", signature)
    assert check_stocksync(SECRET, timestamp, presented, body, now=now) == reason


def test_header_value_is_case_insensitive_for_plain_dicts_and_multidicts() -> None:
    assert header_value({"x-stocksync-signature": "a"}, "X-Stocksync-Signature") == "a"
    assert header_value(CIMultiDict({"X-STOCKSYNC-SIGNATURE": "b"}), "x-stocksync-signature") == "b"
    assert header_value({"Other": "c"}, "X-Stocksync-Signature") is None


def test_a_signed_prefix_is_part_of_the_signed_message() -> None:
    url = b"https://hooks.example.com/v1/stores/s1/webhook"
    signature = base64.b64encode(reference(SECRET, url + BODY)).decode()
    headers = {"X-Signature": signature}
    assert verify_signed_body(SECRET, headers, "x-signature", BODY, encoding="base64", signed_prefix=url)
    assert not verify_signed_body(SECRET, headers, "x-signature", BODY, encoding="base64")
    assert not verify_signed_body(SECRET, headers, "x-signature", BODY, encoding="base64", signed_prefix=b"/")
