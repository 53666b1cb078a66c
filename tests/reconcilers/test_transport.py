"""The shared transport: retries, Retry-After, error mapping, observer, and no secret in any message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import (
    AuthError,
    PermanentError,
    RequestRecord,
    RetryPolicy,
    TemporaryError,
    Transport,
    parse_retry_after,
)

URL = "https://shop.example.test/api/items"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def transport(session: aiohttp.ClientSession, records: list[RequestRecord] | None = None) -> Transport:
    return Transport(
        session,
        platform="test",
        store_id="s1",
        pacer=LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01),
        observer=records.append if records is not None else None,
    )


async def test_json_body_is_parsed_and_url_has_no_query(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*/api/items.*"), payload={"items": [1]}, headers={"X-Test": "1"})
        response = await transport(session).request("GET", URL, params={"consumer_key": "SECRET"})
    assert response.body == {"items": [1]} and response.headers["x-test"] == "1"
    assert "SECRET" not in response.url and response.url.endswith("/api/items")


async def test_empty_body_is_none(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, status=204, body=b"")
        assert (await transport(session).request("POST", URL)).body is None


async def test_429_honours_retry_after_then_succeeds(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    pacer = LeakyBucketPacer(1000, 1000)
    t = Transport(
        session,
        platform="test",
        store_id="s1",
        pacer=pacer,
        retry=RetryPolicy(3, 0.001),
        observer=records.append,
    )
    with aioresponses() as mocked:
        mocked.get(URL, status=429, headers={"Retry-After": "0"})
        mocked.get(URL, payload={"ok": True})
        assert (await t.request("GET", URL)).body == {"ok": True}
    assert [r.outcome for r in records] == ["throttled", "ok"]
    assert [r.attempt for r in records] == [0, 1]


async def test_5xx_retried_then_exhausted(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(URL, status=503, body=b"busy")
        with pytest.raises(TemporaryError, match=r"GET /api/items: HTTP 503 after 3 attempts") as caught:
            await transport(session).request("GET", URL)
    assert caught.value.status == 503


async def test_timeout_is_retried(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=TimeoutError())
        mocked.get(URL, payload=[1])
        assert (await transport(session).request("GET", URL)).body == [1]


async def test_400_is_permanent_with_the_platform_message(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, status=400, payload={"message": "quantity must be >= 0"})
        with pytest.raises(PermanentError, match="POST /api/items: HTTP 400: quantity must be >= 0"):
            await transport(session).request("POST", URL, json={})


async def test_401_is_auth_error_and_not_retried(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    with aioresponses() as mocked:
        mocked.get(URL, status=401, payload={"error": "invalid token"})
        with pytest.raises(AuthError):
            await transport(session, records).request(
                "GET", URL, headers={"Authorization": "Bearer TOPSECRET"}
            )
    assert [r.outcome for r in records] == ["auth_error"]


async def test_invalid_json_is_retried_then_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(URL, status=200, body=b"{broken")
        with pytest.raises(TemporaryError, match="unparseable JSON"):
            await transport(session).request("GET", URL)


async def test_retry_if_hook_retries_a_throttled_200(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, payload={"errors": [{"extensions": {"code": "THROTTLED"}}]})
        mocked.post(URL, payload={"data": {"ok": True}})
        response = await transport(session).request(
            "POST", URL, retry_if=lambda r: 0.0 if "errors" in r.body else None
        )
    assert response.body == {"data": {"ok": True}}


async def test_secrets_never_in_error_text(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*"), status=404, body=b"not here")
        with pytest.raises(PermanentError) as caught:
            await transport(session).request(
                "GET", URL + "?consumer_key=ck_SECRET", headers={"X-Access-Token": "TOKEN_SECRET"}
            )
    assert "SECRET" not in str(caught.value)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
