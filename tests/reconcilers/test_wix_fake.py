"""The Wix fake behaves like the Wix REST reference (raw requests), and WixReconciler works against it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import RetryPolicy, Transport
from reconcilers.wix import WixReconciler
from reconcilers.wix_webhook import envelope, public_key, verify_jwt
from tests.reconcilers.fakes.wix_fake import WIX_STORES_APP, WixFake
from tests.reconcilers.wire import quick_transport

KEY, SITE = "fake-api-key", "site-1"
HEADERS = {"Authorization": KEY, "wix-site-id": SITE}
APP_SECRET = "fake-app-secret-7"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[WixFake, str]]:
    server = WixFake(KEY, site_id=SITE)
    base = await server.start()
    yield server, base
    await server.stop()


async def post(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] = HEADERS) -> Any:
    async with session.post(url, json=body, headers=headers) as answer:
        return answer.status, await answer.json(), answer.headers


def update(item_id: str, revision: Any, **value: Any) -> dict[str, Any]:
    return {"inventoryItem": {"id": item_id, "revision": revision, **value}}


async def test_auth_needs_the_key_and_for_api_keys_the_site(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    for headers, status in [
        ({"Authorization": "wrong", "wix-site-id": SITE}, 401),
        ({"Authorization": KEY}, 403),
    ]:
        async with session.get(base + "/stores/v3/provision/version", headers=headers) as answer:
            assert answer.status == status
            assert (await answer.json())["details"]["applicationError"]["code"]
    async with session.get(base + "/stores/v3/provision/version", headers=HEADERS) as answer:
        assert await answer.json() == {"catalogVersion": "V3_CATALOG"}


async def test_query_pages_by_cursor_and_takes_nothing_else_with_it(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    for n in range(5):
        server.add_item(f"v{n}", quantity=n)
    server.page_cap = 2
    url = base + "/stores/v3/inventory-items/query"
    query = {"filter": {"variantId": {"$in": ["v0", "v1", "v2", "v4"]}}, "cursorPaging": {"limit": 1000}}
    status, page, _ = await post(session, url, {"query": query})
    assert status == 200 and [i["variantId"] for i in page["inventoryItems"]] == ["v0", "v1"]
    assert page["inventoryItems"][0]["revision"] == "1"  # int64 as a JSON string
    cursor = page["pagingMetadata"]["cursors"]["next"]
    status, _, _ = await post(session, url, {"query": {**query, "cursorPaging": {"cursor": cursor}}})
    assert status == 400  # a cursor travels alone
    status, page, _ = await post(session, url, {"query": {"cursorPaging": {"cursor": cursor, "limit": 1000}}})
    assert [i["variantId"] for i in page["inventoryItems"]] == ["v2", "v4"]
    assert page["pagingMetadata"]["hasNext"] is False and "next" not in page["pagingMetadata"]["cursors"]
    status, _, _ = await post(session, url, {"query": {"cursorPaging": {"limit": 1001}}})
    assert status == 400


async def test_bulk_update_caps_checks_and_counts_revisions(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    first = server.add_item("v1", quantity=5)
    second = server.add_item("v2", in_stock=True)
    url = base + "/stores/v3/bulk/inventory-items/update"
    too_many = [update(first, 1, quantity=1)] * 1001
    invalid_bodies: list[dict[str, Any]] = [
        {"inventoryItems": []},
        {"inventoryItems": too_many},
        {"inventoryItems": [update(first, 1, quantity=1, inStock=True)]},  # a oneof
        {"inventoryItems": [update(first, None, quantity=1)]},  # revision required
        {"inventoryItems": [update(first, 1, quantity=1_000_001)]},
    ]
    for invalid in invalid_bodies:
        status, _, _ = await post(session, url, invalid)
        assert status == 400
    server.refused_ids.add(second)
    body: dict[str, Any] = {
        "inventoryItems": [update(first, "1", quantity=0), update(second, 1, inStock=False)],
        "returnEntity": True,
    }
    status, answer, _ = await post(session, url, body)
    assert status == 200
    ok, refused = answer["results"]
    assert ok["itemMetadata"] == {"id": first, "originalIndex": 0, "success": True}
    assert ok["item"]["revision"] == "2" and ok["item"]["availabilityStatus"] == "OUT_OF_STOCK"
    assert refused["itemMetadata"]["success"] is False and refused["itemMetadata"]["error"]["code"]
    assert answer["bulkActionMetadata"] == {"totalSuccesses": 1, "totalFailures": 1, "undetailedFailures": 0}
    status, error, _ = await post(session, url, {"inventoryItems": [update(first, 1, quantity=9)]})
    assert status == 428 and error["details"]["applicationError"]["code"] == "REVISION_MISMATCH"
    assert server.items[first]["quantity"] == 0 and server.items[first]["revision"] == 2  # nothing written


async def test_throttle_is_a_bare_429_and_5xx_are_served_first(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    server.throttle_next, server.fail_next = 1, [503]
    url = base + "/stores/v3/provision/version"
    async with session.get(url, headers=HEADERS) as answer:
        assert answer.status == 503
    async with session.get(url, headers=HEADERS) as answer:
        assert answer.status == 429 and "Retry-After" not in answer.headers  # none documented
    async with session.get(url, headers=HEADERS) as answer:
        assert answer.status == 200


def build(session: aiohttp.ClientSession, base: str, server: WixFake, **settings: Any) -> WixReconciler:
    values = {"base_url": base, "site_id": SITE, "app_id": server.app_id, **settings}
    store = StoreConfig("w1", "wix", "europe", "wix", settings=values)
    transport = Transport(
        session, platform="wix", store_id="w1", pacer=LeakyBucketPacer(1000, 1000), retry=RetryPolicy(3, 0.01)
    )
    credential = Secret("wix", json.dumps({"api_key": KEY, "public_key": server.public_pem}))
    return WixReconciler(ReconcilerContext(store, transport, credential))


async def test_the_reconciler_syncs_both_tracking_methods(fake: Any, session: aiohttp.ClientSession) -> None:
    server, base = fake
    counted, flagged = server.add_item("v1", quantity=5), server.add_item("v2", in_stock=True)
    server.add_item("v3", quantity=0, location_id="loc-2")  # another location: not ours
    wix = build(session, base, server, location_id="loc-1")
    seen = {
        o.external_id: o for o in await wix.observe([SyncedVariant("w1", v, v) for v in ("v1", "v2", "v3")])
    }
    assert set(seen) == {"v1", "v2"} and seen["v2"].unlimited
    result = await wix.apply(
        [
            Change("v1", Availability(False, None), seen["v1"].as_availability(), seen["v1"].platform_ref),
            Change("v2", Availability(False, None), seen["v2"].as_availability(), seen["v2"].platform_ref),
        ]
    )
    assert result.failed == () and len(result.confirmed) == 2
    assert server.items[counted]["quantity"] == 0 and server.items[flagged]["inStock"] is False
    assert server.stats.update_sizes == [2]
    await server.stop()  # the echoes are delivered after the answer


async def test_a_merchants_edit_since_our_read_survives(fake: Any, session: aiohttp.ClientSession) -> None:
    server, base = fake
    item = server.add_item("v1", quantity=5)
    wix = build(session, base, server)
    [seen] = await wix.observe([SyncedVariant("w1", "v1", "v1")])
    await server.manual_edit(item, quantity=8)
    result = await wix.apply(
        [Change("v1", Availability(False, 0), seen.as_availability(), seen.platform_ref)]
    )
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT]
    assert server.items[item]["quantity"] == 8


async def test_deliveries_are_signed_jwts_naming_the_writing_app(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    item = server.add_item("v1", quantity=5)
    await server.manual_edit(item, quantity=2)
    [body] = server.sent_webhooks
    assert verify_jwt(public_key(server.public_pem), body)
    delivered = envelope(body)
    assert delivered.identity["appId"] == WIX_STORES_APP and delivered.instance_id == server.instance_id
    wix = build(session, base, server)
    [notified] = wix.parse_webhook({"Content-Type": "text/plain"}, body)
    assert (notified.external_id, notified.quantity) == (item, 2)


async def test_v1_products_read_and_written_through_the_v1_routes(
    fake: Any, session: aiohttp.ClientSession
) -> None:
    server, base = fake
    server.catalog_version = "V1_CATALOG"
    server.add_v1_product("p1", {"red": 4, "blue": 0}, tracked=True)
    server.add_v1_product("p2", {"00000000-0000-0000-0000-000000000000": True}, tracked=False)
    url = base + "/stores/v2/inventoryItems/query"
    status, _, _ = await post(session, url, {"query": {"paging": {"limit": 101}}})
    assert status == 400
    wix = build(session, base, server)
    ids = ["p1:red", "p1:blue", "p2:00000000-0000-0000-0000-000000000000"]
    seen = {o.external_id: o for o in await wix.observe([SyncedVariant("w1", i, i) for i in ids])}
    assert [(seen[i].available, seen[i].quantity, seen[i].unlimited) for i in ids] == [
        (True, 4, False),
        (False, 0, False),
        (True, None, True),
    ]
    changes = [
        Change(i, Availability(i == "p1:blue", None), seen[i].as_availability(), seen[i].platform_ref)
        for i in ids
    ]
    result = await wix.apply(changes)
    assert result.failed == () and len(result.confirmed) == 3
    assert server.products["p1"]["trackQuantity"] is True  # sent as read: the product keeps counting
    assert [r["quantity"] for r in server.products["p1"]["variants"]] == [0, 100]
    assert server.products["p2"]["variants"][0]["inStock"] is False
    assert server.stats.updates == 2  # one PATCH per product


async def test_an_app_secret_gets_an_instance_token_and_works_without_a_site(
    session: aiohttp.ClientSession,
) -> None:
    server = WixFake(KEY, site_id=SITE, app_secret=APP_SECRET)
    base = await server.start()
    try:
        status, _, _ = await post(session, base + "/oauth2/token", {"grant_type": "client_credentials"}, {})
        assert status == 400
        server.add_item("v1", quantity=3)
        store = StoreConfig(
            "w1",
            "wix",
            "europe",
            "wix",
            settings={"base_url": base, "app_id": server.app_id, "instance_id": server.instance_id},
        )
        transport = quick_transport(session, "wix", "w1")
        credential = Secret("wix", json.dumps({"app_secret": APP_SECRET}))
        wix = WixReconciler(ReconcilerContext(store, transport, credential))
        [seen] = await wix.observe([SyncedVariant("w1", "v1", "v1")])
        assert (seen.available, seen.quantity) == (True, 3)
        assert server.minted == ["app-token-1"]
    finally:
        await server.stop()
