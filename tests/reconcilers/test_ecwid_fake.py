"""The Ecwid fake behaves like the documentation says Ecwid does: auth and scopes, limits, pagination,
the 429 throttle, unlimited items, asynchronous batches and the webhook signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.reconcilers.fakes.ecwid_fake import READ, WRITE, EcwidFake

TOKEN, SECRET = "secret_fake-token", "fake-client-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def fake() -> AsyncIterator[EcwidFake]:
    server = EcwidFake(TOKEN, SECRET, "1003")
    await server.start()
    yield server
    await server.stop()


async def call(
    session: aiohttp.ClientSession, fake: EcwidFake, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    kwargs.setdefault("headers", AUTH)
    async with session.request(method, f"{fake.base_url}/1003{path}", **kwargs) as answer:
        return answer.status, await answer.json(), dict(answer.headers)


async def test_a_wrong_token_another_store_or_a_missing_scope_is_403(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("101", 5)
    assert (await call(session, fake, "GET", "/products", headers={"Authorization": "Bearer nope"}))[0] == 403
    async with session.get(f"{fake.base_url}/2004/products", headers=AUTH) as answer:
        assert answer.status == 403
    fake.scopes = {READ}
    status, body, _ = await call(session, fake, "PUT", "/products/101", json={"quantity": 1})
    assert status == 403 and "update_catalog" in body["errorMessage"]
    assert fake.item("101").quantity == 5  # type: ignore[union-attr]
    # the legacy ?token= query still authenticates
    assert (await call(session, fake, "GET", "/products", headers={}, params={"token": TOKEN}))[0] == 200
    fake.scopes = {WRITE}
    assert (await call(session, fake, "GET", "/products"))[0] == 403


async def test_search_by_ids_pages_by_offset_and_caps_limit(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    for product in (101, 102, 103):
        fake.seed(str(product), product - 100)
    params = {"productId": "103,101,999", "limit": "1", "offset": "1"}
    status, body, _ = await call(session, fake, "GET", "/products", params=params)
    assert status == 200
    assert (body["total"], body["count"], body["offset"], body["limit"]) == (2, 1, 1, 1)
    assert [item["id"] for item in body["items"]] == [101]
    assert (await call(session, fake, "GET", "/products", params={"limit": "101"}))[0] == 400


async def test_unlimited_items_omit_quantity_and_ignore_a_count(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("104", unlimited=True)
    status, body, _ = await call(session, fake, "PUT", "/products/104", json={"quantity": 3})
    assert (status, body) == (200, {"updateCount": 1})
    _, found, _ = await call(session, fake, "GET", "/products", params={"productId": "104"})
    assert found["items"][0]["unlimited"] is True and "quantity" not in found["items"][0]
    await call(session, fake, "PUT", "/products/104", json={"quantity": 3, "unlimited": False})
    _, found, _ = await call(session, fake, "GET", "/products", params={"productId": "104"})
    assert (found["items"][0]["quantity"], found["items"][0]["inStock"]) == (3, True)


async def test_variations_are_listed_and_written_per_product(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("500:501", 2)
    fake.seed("500:502", unlimited=True)
    status, body, _ = await call(session, fake, "GET", "/products/500/combinations")
    assert status == 200 and [v["id"] for v in body] == [501, 502]
    assert (await call(session, fake, "PUT", "/products/500/combinations/501", json={"quantity": 0}))[
        0
    ] == 200
    assert fake.item("500:501").quantity == 0  # type: ignore[union-attr]
    assert (await call(session, fake, "GET", "/products/777/combinations"))[0] == 404
    assert (await call(session, fake, "PUT", "/products/500/combinations/509", json={"quantity": 0}))[
        0
    ] == 404


async def test_writes_refuse_bad_bodies_and_content_types(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("101", 5)
    assert (await call(session, fake, "PUT", "/products/101", json={"quantity": "five"}))[0] == 400
    plain = {**AUTH, "Content-Type": "text/plain"}
    assert (await call(session, fake, "PUT", "/products/101", data=b"{}", headers=plain))[0] == 415
    fake.refused.add("101")
    status, body, _ = await call(session, fake, "PUT", "/products/101", json={"quantity": 1})
    assert status == 400 and body["errorMessage"]
    assert fake.item("101").quantity == 5  # type: ignore[union-attr]


async def test_the_inventory_adjustment_is_a_delta(session: aiohttp.ClientSession, fake: EcwidFake) -> None:
    fake.seed("101", 5)
    await call(session, fake, "PUT", "/products/101/inventory", json={"quantityDelta": -7})
    assert fake.item("101").quantity == -2  # type: ignore[union-attr]


async def test_throttle_answers_429_with_retry_after(session: aiohttp.ClientSession, fake: EcwidFake) -> None:
    fake.throttle_next, fake.retry_after = 1, "3"
    status, body, headers = await call(session, fake, "GET", "/products")
    assert (status, headers["Retry-After"]) == (429, "3") and body["errorMessage"]
    assert (await call(session, fake, "GET", "/products"))[0] == 200


async def test_more_than_the_minute_budget_is_throttled(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.requests_per_minute = 3
    statuses = [(await call(session, fake, "GET", "/products"))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_server_errors_come_first(session: aiohttp.ClientSession, fake: EcwidFake) -> None:
    fake.fail_next = [503]
    async with session.get(f"{fake.base_url}/1003/products", headers=AUTH) as answer:
        assert answer.status == 503
    assert (await call(session, fake, "GET", "/products"))[0] == 200


async def test_a_batch_answers_a_ticket_then_per_request_results(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("101", 5)
    fake.seed("102", 5)
    fake.batch_pending_polls = 1
    subs = [
        {"id": "a", "path": "/products/101", "method": "PUT", "body": {"quantity": 1, "unlimited": False}},
        {"id": "b", "path": "/products/999", "method": "PUT", "body": {"quantity": 1}},
        {"id": "c", "path": "/products/102", "method": "PUT", "body": {"quantity": 2}},
    ]
    status, created, _ = await call(
        session, fake, "POST", "/batch", json=subs, params={"deduplicationKey": "k1"}
    )
    assert status == 200 and set(created) == {"ticket"}
    _, pending, _ = await call(session, fake, "GET", "/batch", params={"ticket": created["ticket"]})
    assert pending["status"] == "QUEUED"
    _, done, _ = await call(session, fake, "GET", "/batch", params={"ticket": created["ticket"]})
    assert done["status"] == "COMPLETED" and done["totalRequests"] == 3
    results = [(r["id"], r["status"], r.get("httpStatusCode")) for r in done["responses"]]
    assert results == [("a", "COMPLETED", 200), ("b", "FAILED", 404), ("c", "NOT_EXECUTED", None)]
    assert fake.item("102").quantity == 5  # type: ignore[union-attr]
    _, again, _ = await call(session, fake, "POST", "/batch", json=subs, params={"deduplicationKey": "k1"})
    assert again == created  # the first ticket's result, not a second execution


async def test_a_batch_runs_on_after_failures_when_asked(
    session: aiohttp.ClientSession, fake: EcwidFake
) -> None:
    fake.seed("102", 5)
    subs = [
        {"path": "/products/999", "method": "PUT", "body": {"quantity": 1}},
        {"path": "/products/102", "method": "PUT", "body": {"quantity": 2}},
    ]
    _, created, _ = await call(
        session, fake, "POST", "/batch", json=subs, params={"stopOnFirstFailure": "false"}
    )
    assert fake.item("102").quantity == 2  # type: ignore[union-attr]
    assert (await call(session, fake, "POST", "/batch", json=subs * 251))[0] == 400  # 502 > 500


def test_events_are_signed_over_time_and_id_only() -> None:
    fake = EcwidFake(TOKEN, SECRET, "1003")
    headers, body = fake.event(101, created=1469429912)
    event = json.loads(body)
    assert {k: event[k] for k in ("storeId", "entityId", "eventType")} == {
        "storeId": 1003,
        "entityId": 101,
        "eventType": "product.updated",
    }
    expected = hmac.new(SECRET.encode(), f"1469429912.{event['eventId']}".encode(), hashlib.sha256).digest()
    assert headers["X-Ecwid-Webhook-Signature"] == base64.b64encode(expected).decode()
