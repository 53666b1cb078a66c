"""The Storenvy fake behaves like the documentation says Storenvy does: the three API-key forms and the
OAuth token, the response envelope, 50-object pages with next_url, JSON-only writes, error envelopes and
the (plain HTTP) throttle."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.reconcilers.fakes.storenvy_fake import StorenvyFake

KEY, TOKEN = "fake-store-api-key", "fake-oauth-token"
AUTH = {"API-KEY": KEY}


@pytest.fixture
async def fake() -> AsyncIterator[StorenvyFake]:
    server = StorenvyFake(KEY, TOKEN)
    await server.start()
    yield server
    await server.stop()


async def call(
    session: aiohttp.ClientSession, fake: StorenvyFake, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    kwargs.setdefault("headers", AUTH)
    url = path if path.startswith("http") else f"{fake.base_url}{path}"
    async with session.request(method, url, **kwargs) as answer:
        return answer.status, await answer.json(), dict(answer.headers)


async def test_every_documented_credential_form_and_nothing_else(
    session: aiohttp.ClientSession, fake: StorenvyFake
) -> None:
    fake.seed("101:501", 5)
    path = "/products/101/variants.json"
    basic = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:anything".encode()).decode()}
    assert (await call(session, fake, "GET", path))[0] == 200
    assert (await call(session, fake, "GET", path, headers={}, params={"api_key": KEY}))[0] == 200
    assert (await call(session, fake, "GET", path, headers=basic))[0] == 200
    assert (await call(session, fake, "GET", path, headers={}, params={"access_token": TOKEN}))[0] == 200
    status, body, _ = await call(session, fake, "GET", path, headers={"API-KEY": "nope"})
    assert status == 401 and body["meta"]["code"] == 401 and body["meta"]["error_type"]
    assert (await call(session, fake, "GET", path, headers={}))[0] == 401
    assert (await call(session, fake, "GET", path, headers={"Authorization": f"Bearer {TOKEN}"}))[0] == 401


async def test_variants_come_in_the_envelope_50_a_page_with_next_url(
    session: aiohttp.ClientSession, fake: StorenvyFake
) -> None:
    for variant in range(1, 121):
        fake.seed(f"101:{variant}", variant)
    seen: list[int] = []
    url = "/products/101/variants.json"
    params: dict[str, str] | None = {"api_key": KEY}
    pages = 0
    while url:
        status, body, _ = await call(session, fake, "GET", url, headers={}, params=params)
        assert status == 200 and body["meta"] == {"code": 200, "api_version": "1.0"}
        assert len(body["data"]) <= 50 and body["pagination"]["total"] == 120
        seen += [v["id"] for v in body["data"]]
        url, params, pages = body["pagination"].get("next_url"), None, pages + 1
        if url:  # the auth query travels in next_url, as in the docs' example
            assert "api_key=" in url and "after_id=" in url
    assert pages == 3 and seen == list(range(1, 121))
    first = (await call(session, fake, "GET", "/products/101/variants"))[1]["data"][0]
    assert set(first) >= {"id", "product_id", "full_quantity", "in_stock"}


async def test_unknown_products_and_variants_are_404(
    session: aiohttp.ClientSession, fake: StorenvyFake
) -> None:
    fake.seed("101:501", 1)
    assert (await call(session, fake, "GET", "/products/999/variants.json"))[0] == 404
    status, body, _ = await call(
        session, fake, "PUT", "/products/101/variants/777.json", json={"full_quantity": 1}
    )
    assert status == 404 and body["meta"]["error_type"] == "NotFound"


async def test_put_is_json_only_validated_and_answers_the_variant(
    session: aiohttp.ClientSession, fake: StorenvyFake
) -> None:
    fake.seed("101:501", 5)
    path = "/products/101/variants/501.json"
    status, body, _ = await call(session, fake, "PUT", path, json={"full_quantity": 0, "in_stock": False})
    assert status == 200 and body["data"]["full_quantity"] == 0 and body["data"]["in_stock"] is False
    assert (await call(session, fake, "PUT", path, data=b"full_quantity=3", headers=AUTH))[0] == 415
    for bad in ({"full_quantity": -1}, {"full_quantity": "3"}, {"in_stock": "yes"}):
        status, body, _ = await call(session, fake, "PUT", path, json=bad)
        assert status == 422 and body["meta"]["error_type"] == "ValidationError"
    fake.refused.add("101:501")
    assert (await call(session, fake, "PUT", path, json={"full_quantity": 2}))[0] == 422
    variant = fake.variant("101:501")
    assert variant is not None and (variant.full_quantity, variant.in_stock) == (0, False)


async def test_throttle_and_server_errors(session: aiohttp.ClientSession, fake: StorenvyFake) -> None:
    fake.seed("101:501", 1)
    fake.throttle_next, fake.retry_after = 1, "2"
    status, body, headers = await call(session, fake, "GET", "/products/101/variants.json")
    assert status == 429 and headers["Retry-After"] == "2" and body["meta"]["code"] == 429
    fake.fail_next = [503]
    assert (await call(session, fake, "GET", "/products/101/variants.json"))[0] == 503
    assert (await call(session, fake, "GET", "/products/101/variants.json"))[0] == 200
    assert fake.stats.throttled_429 == 1


async def test_the_webhook_body_names_a_product_and_carries_no_signature(fake: StorenvyFake) -> None:
    headers, body = fake.event(101)
    assert set(headers) == {"Content-Type"} and b'"id": 101' in body
