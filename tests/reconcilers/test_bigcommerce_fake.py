"""The BigCommerce fake behaves like the docs (caps, auth, pagination, throttle), and the reconciler's
traffic through it, checked against BigCommerce's OpenAPI files, has no violation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, StoreConfig, SyncedVariant
from reconcilers.bigcommerce import BigCommerceReconciler
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import build_pacer
from reconcilers.transport import RetryPolicy, Transport
from tests.reconcilers.fakes.bigcommerce_fake import BigCommerceFake, documented_specs

TOKEN, SECRET = "fake-bc-token", "fake-bc-client-secret"
HEADERS = {"X-Auth-Token": TOKEN, "Accept": "application/json"}


@pytest.fixture
async def fake() -> AsyncIterator[BigCommerceFake]:
    server = BigCommerceFake(TOKEN, SECRET, "s1")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def checked() -> AsyncIterator[BigCommerceFake]:
    """A fake that checks every request and answer against BigCommerce's OpenAPI files."""
    server = BigCommerceFake(TOKEN, SECRET, "s1", specs=documented_specs())
    await server.start()
    yield server
    await server.stop()


def build(
    session: aiohttp.ClientSession, fake: BigCommerceFake, token: str = TOKEN, **settings: Any
) -> BigCommerceReconciler:
    store = StoreConfig(
        "b1", "bigcommerce", "eu", "bc", settings={"store_hash": "s1", "base_url": fake.base_url, **settings}
    )
    caps = BigCommerceReconciler.capabilities
    transport = Transport(
        session,
        platform="bigcommerce",
        store_id="b1",
        pacer=build_pacer(caps.rate_budget),
        retry=RetryPolicy(attempts=4, base_delay=0.01),
    )
    credential = Secret("bc", json.dumps({"access_token": token, "client_secret": SECRET}))
    return BigCommerceReconciler(ReconcilerContext(store, transport, credential))


def synced(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("b1", i, f"u-{i}") for i in ids]


def on_hand(fake: BigCommerceFake, product: int, variant: int | None) -> int | None:
    level = fake.level(product, variant)
    return None if level is None else level.on_hand


def shop(fake: BigCommerceFake) -> None:
    """Product 1 per variant (100, 101), product 2 by product, product 3 untracked."""
    fake.add_product(1, "variant", variants=2)
    fake.set_level(1, 100, 12, safety_stock=2)
    fake.set_level(1, 101, 0)
    fake.add_product(2, "product")
    fake.set_level(2, None, 5)
    fake.add_product(3, "none")


async def test_contract_flows_through_the_fake_break_no_rule_of_the_spec(
    session: aiohttp.ClientSession, checked: BigCommerceFake
) -> None:
    shop(checked)
    bc = build(session, checked)
    seen = {o.external_id: o for o in await bc.observe(synced("1:100", "1:101", "2", "3:300", "1", "9:900"))}
    assert {k: (o.available, o.quantity) for k, o in seen.items() if o.problem is None} == {
        "1:100": (True, 10),
        "1:101": (False, 0),
        "2": (True, 5),
        "3:300": (True, None),
    }
    writes = [
        Change(k, Availability(q > 0, q), platform_ref=seen[k].platform_ref)
        for k, q in (("1:100", 3), ("1:101", 4), ("2", 0))
    ]
    result = await bc.apply(writes)
    assert result.failed == ()
    assert (on_hand(checked, 1, 100), on_hand(checked, 1, 101), on_hand(checked, 2, None)) == (5, 4, 0)
    checked.throttle_next, checked.throttle_reset_ms = 1, 30
    assert len(await bc.observe(synced("1:100"))) == 1  # throttled once, then served
    checked.refused.add(101)
    refused = await bc.apply([Change("1:100", Availability(True, 1)), Change("1:101", Availability(True, 1))])
    assert [(f.external_id, f.kind) for f in refused.failed] == [("1:101", FailureKind.PERMANENT)]
    with pytest.raises(Exception, match="401"):
        await build(session, checked, token="wrong-token-123").observe(synced("1:100"))
    with pytest.raises(Exception, match="404"):
        await build(session, checked, location_id=7).observe(synced("1:100"))
    assert checked.stats.throttled == 1
    assert checked.violations == []


async def test_every_request_needs_the_token(session: aiohttp.ClientSession, fake: BigCommerceFake) -> None:
    async with session.get(fake.base_url + "/catalog/products") as answer:
        assert answer.status == 401
        assert answer.content_type == "application/problem+json"
        assert (await answer.json())["status"] == 401


async def test_documented_caps(session: aiohttp.ClientSession, fake: BigCommerceFake) -> None:
    fake.add_product(1, "variant")
    for path, limit in (("/catalog/products", 251), ("/inventory/locations/1/items", 1001)):
        async with session.get(fake.base_url + path, params={"limit": str(limit)}, headers=HEADERS) as answer:
            assert answer.status == 422, path
    items = [{"location_id": 1, "variant_id": 100, "quantity": 1}] * 2001
    async with session.put(
        fake.base_url + "/inventory/adjustments/absolute", json={"items": items}, headers=HEADERS
    ) as answer:
        assert answer.status == 422
        assert "2000" in (await answer.json())["title"]
    async with session.put(
        fake.base_url + "/inventory/adjustments/absolute", json={"items": items[:2000]}, headers=HEADERS
    ) as answer:
        assert answer.status == 200
    assert fake.stats.adjustments == [2000]


async def test_an_adjustment_is_refused_whole(session: aiohttp.ClientSession, fake: BigCommerceFake) -> None:
    fake.add_product(1, "variant")
    fake.add_product(2, "product")
    fake.set_level(1, 100, 3)
    items = [
        {"location_id": 1, "variant_id": 100, "quantity": 9},
        {"location_id": 1, "variant_id": 200, "quantity": 1},
    ]
    async with session.put(
        fake.base_url + "/inventory/adjustments/absolute", json={"items": items}, headers=HEADERS
    ) as answer:
        assert answer.status == 422
        assert (await answer.json())[
            "title"
        ] == "[Item with variant_id 200 is tracked by product, please update stock by product id]"
    assert on_hand(fake, 1, 100) == 3  # nothing written
    too_many = [{"location_id": 1, "variant_id": 100, "quantity": 2_147_483_648}]
    async with session.put(
        fake.base_url + "/inventory/adjustments/absolute", json={"items": too_many}, headers=HEADERS
    ) as answer:
        assert answer.status == 422


async def test_pages(session: aiohttp.ClientSession, fake: BigCommerceFake) -> None:
    fake.add_product(1, "variant", variants=3)
    for variant in (100, 101, 102):
        fake.set_level(1, variant, variant)
    params = {"variant_id:in": "100,101,102", "limit": "2", "page": "2"}
    async with session.get(
        fake.base_url + "/inventory/locations/1/items", params=params, headers=HEADERS
    ) as answer:
        body = await answer.json()
    assert [row["identity"]["variant_id"] for row in body["data"]] == [102]
    assert (
        body["meta"]["pagination"]["total_pages"] == 2 and "next" not in body["meta"]["pagination"]["links"]
    )


async def test_the_quota_and_its_headers(session: aiohttp.ClientSession) -> None:
    fake = BigCommerceFake(TOKEN, SECRET, "s1", quota=2, window_ms=300)
    await fake.start()
    try:
        statuses, headers = [], []
        for _ in range(3):
            async with session.get(fake.base_url + "/catalog/products", headers=HEADERS) as answer:
                statuses.append(answer.status)
                headers.append(answer.headers)
        assert statuses == [200, 200, 429]
        assert (
            headers[0]["X-Rate-Limit-Requests-Quota"] == "2"
            and headers[0]["X-Rate-Limit-Requests-Left"] == "1"
        )
        assert headers[2]["X-Rate-Limit-Requests-Left"] == "0" and "Retry-After" not in headers[2]
        reset_ms = int(headers[2]["X-Rate-Limit-Time-Reset-Ms"])
        assert 0 < reset_ms <= 300
        await asyncio.sleep(reset_ms / 1000 + 0.02)
        async with session.get(fake.base_url + "/catalog/products", headers=HEADERS) as answer:
            assert answer.status == 200
    finally:
        await fake.stop()


async def test_a_store_over_its_quota_is_waited_out_by_the_pacer(session: aiohttp.ClientSession) -> None:
    fake = BigCommerceFake(TOKEN, SECRET, "s1", quota=3, window_ms=400)
    await fake.start()
    try:
        fake.add_product(1, "variant")
        fake.set_level(1, 100, 4)
        bc = build(session, fake, requests_per_second=1000)
        for _ in range(3):  # 6 requests against a quota of 3 per 400 ms
            assert [o.quantity for o in await bc.observe(synced("1:100"))] == [4]
        assert fake.stats.throttled <= 1  # "Requests-Left: 0" paused the store until the reset
    finally:
        await fake.stop()


async def test_our_write_comes_back_as_a_signed_stock_changed_naming_it(
    session: aiohttp.ClientSession, fake: BigCommerceFake
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        fake.callback_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        fake.add_product(1, "variant")
        bc = build(session, fake)
        assert (await bc.apply([Change("1:100", Availability(True, 6))])).failed == ()
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.01)
        [(headers, body)] = received
        assert bc.verify_webhook(headers, body)
        notified = bc.parse_webhook(headers, body)
        assert notified.reread and "1:100" in [o.external_id for o in notified]
        assert [(o.available, o.quantity) for o in await bc.observe(synced("1:100"))] == [(True, 6)]
    finally:
        await runner.cleanup()


async def test_the_checking_fake_notices_what_the_spec_refuses(
    session: aiohttp.ClientSession, checked: BigCommerceFake
) -> None:
    checked.add_product(1, "variant")
    checked.products[1].inventory_tracking = "sometimes"  # not in the documented enum: a bad answer
    async with session.get(checked.base_url + "/catalog/products", headers=HEADERS) as answer:
        assert answer.status == 200
    assert any("catalog/products" in v and "sometimes" in v for v in checked.violations)
    bad = {"items": [{"location_id": "one", "variant_id": 100, "quantity": 1}]}
    async with session.put(checked.base_url + "/inventory/adjustments/absolute", json=bad, headers=HEADERS):
        pass
    assert any("adjustments/absolute" in v and "refused by the spec" in v for v in checked.violations)
