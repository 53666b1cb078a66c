"""WooCommerceReconciler against the local fake store: request counts, batch sizes, throttling, webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers import ReconcilerFactory
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import AuthError, RequestRecord, RetryPolicy, Transport
from reconcilers.woocommerce import WooCommerceReconciler
from tests.reconcilers.fakes.woocommerce_fake import FakeItem, WooCommerceFake

KEY, CS, HOOK = "ck_fake_key", "cs_fake_secret", "fake-webhook-secret"


@pytest.fixture
async def fake() -> AsyncIterator[WooCommerceFake]:
    server = WooCommerceFake(consumer_key=KEY, consumer_secret=CS, webhook_secret=HOOK)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def build(
    fake: WooCommerceFake,
    session: aiohttp.ClientSession,
    records: list[RequestRecord] | None = None,
    key: str = KEY,
) -> WooCommerceReconciler:
    store = StoreConfig("w1", "woocommerce", "europe", "woo", settings={"base_url": fake.base_url})
    transport = Transport(
        session,
        platform="woocommerce",
        store_id="w1",
        pacer=LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=4, base_delay=0.01),
        observer=records.append if records is not None else None,
    )
    credential = Secret(
        "woo", json.dumps({"consumer_key": key, "consumer_secret": CS, "webhook_secret": HOOK})
    )
    return WooCommerceReconciler(ReconcilerContext(store, transport, credential))


def seed(fake: WooCommerceFake, simple: int, parents: int, per_parent: int) -> list[str]:
    """Simple products 1..simple (managed, 5 each) and variable products with unmanaged variations."""
    ids = []
    for n in range(1, simple + 1):
        fake.add(FakeItem(n, manage_stock=True, stock_quantity=5))
        ids.append(str(n))
    for p in range(parents):
        parent = 10_000 + p * 1000
        fake.add(FakeItem(parent))
        for v in range(1, per_parent + 1):
            fake.add(FakeItem(parent + v, parent_id=parent, stock_status="outofstock"))
            ids.append(f"{parent}:{parent + v}")
    return ids


async def test_observe_many_variants_with_batched_reads(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    ids = seed(fake, simple=250, parents=2, per_parent=30)
    observed = await build(fake, session).observe([SyncedVariant("w1", i, f"v{i}") for i in ids])
    # 250 simple → 3 include requests of ≤100; each parent's 30 variations → 1 request
    assert fake.stats.reads == 5
    assert len(observed) == 310
    by_id = {o.external_id: o for o in observed}
    assert by_id["1"] == Observed("1", True, 5, {"manage_stock": True, "backorders": "no"})
    assert by_id["10000:10001"].available is False and by_id["10000:10001"].quantity is None


async def test_apply_sends_one_request_per_write_unit(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    ids = seed(fake, simple=97, parents=1, per_parent=3)
    changes = [Change(i, Availability(False, 0)) for i in ids if ":" not in i]
    changes += [Change(i, Availability(True), platform_ref={"manage_stock": False}) for i in ids if ":" in i]
    result = await build(fake, session).apply(changes)
    assert sorted(fake.stats.batch_sizes) == [3, 97]  # the per-unit floor: simple products, one parent
    assert result.failed == () and len(result.confirmed) == 100
    assert fake.items[1].stock_status == "outofstock" and fake.items[1].stock_quantity == 0
    assert fake.items[10_001].stock_status == "instock"


async def test_an_out_of_stock_threshold_is_a_problem_not_a_retry(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    fake.no_stock_amount = 2  # the shop calls 2 or fewer "out of stock"
    fake.add(FakeItem(1, manage_stock=True, stock_quantity=0, stock_status="outofstock"))
    reconciler = build(fake, session)
    [seen] = await reconciler.observe([SyncedVariant("w1", "1", "v1")])
    first = await reconciler.apply(
        [Change("1", Availability(True, 2), seen.as_availability(), seen.platform_ref)]
    )
    (failure,) = first.failed
    assert failure.kind is FailureKind.PROBLEM and "out-of-stock threshold" in failure.reason
    # the next pass sees the derived state and does not write the same count again
    [again] = await reconciler.observe([SyncedVariant("w1", "1", "v1")])
    second = await reconciler.apply(
        [Change("1", Availability(True, 2), again.as_availability(), again.platform_ref)]
    )
    assert second.failed[0].kind is FailureKind.PROBLEM
    assert fake.stats.batch_sizes == [1]


async def test_status_write_on_managed_stock_with_backorders_really_stops_selling(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    fake.add(FakeItem(1, manage_stock=True, stock_quantity=4, backorders="notify"))
    reconciler = build(fake, session)
    [seen] = await reconciler.observe([SyncedVariant("w1", "1", "v1")])
    result = await reconciler.apply([Change("1", Availability(False), platform_ref=seen.platform_ref)])
    assert [o.available for o in result.confirmed] == [False]
    assert (fake.items[1].stock_status, fake.items[1].backorders) == ("outofstock", "no")


async def test_partial_failure_maps_per_item(fake: WooCommerceFake, session: aiohttp.ClientSession) -> None:
    seed(fake, simple=3, parents=1, per_parent=1)
    changes = [Change(str(n), Availability(True, 9)) for n in (1, 2, 404)] + [
        Change("10000:999", Availability(True, 1))  # not a variation of that parent
    ]
    result = await build(fake, session).apply(changes)
    assert sorted(o.external_id for o in result.confirmed) == ["1", "2"]
    assert sorted((f.external_id, f.permanent) for f in result.failed) == [("10000:999", True), ("404", True)]
    assert all("woocommerce_rest_product_invalid_id" in f.reason for f in result.failed)


async def test_throttling_is_honoured_without_error(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    seed(fake, simple=2, parents=0, per_parent=0)
    fake.throttle_next = [0.2, 0.1]
    records: list[RequestRecord] = []
    observed = await build(fake, session, records).observe([SyncedVariant("w1", "1", "v1")])
    assert [o.external_id for o in observed] == ["1"]
    assert fake.stats.throttled == 2
    assert [r.outcome for r in records] == ["throttled", "throttled", "ok"]


async def test_wrong_key_is_an_auth_error(fake: WooCommerceFake, session: aiohttp.ClientSession) -> None:
    seed(fake, simple=1, parents=0, per_parent=0)
    with pytest.raises(AuthError) as info:
        await build(fake, session, key="ck_wrong").observe([SyncedVariant("w1", "1", "v1")])
    assert fake.stats.unauthorized == 1 and "ck_wrong" not in str(info.value)


async def test_webhook_from_the_fake_is_verified_and_parsed(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    seed(fake, simple=1, parents=1, per_parent=2)
    reconciler = build(fake, session)
    received: list[list[Observed]] = []

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        if not reconciler.verify_webhook(request.headers, body):
            return web.Response(status=401)
        received.append(reconciler.parse_webhook(request.headers, body))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/w1", endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/w1"
    try:
        assert await fake.send_ping(url) == 200  # creation ping: accepted, carries nothing
        fake.items[10_002].stock_status = "instock"  # a manual edit in the admin
        assert await fake.send_product_updated(url, 10_002) == 200
        fake.webhook_secret = "someone-else"
        assert await fake.send_product_updated(url, 1) == 401
    finally:
        await runner.cleanup()
    assert received == [
        [],
        [Observed("10000:10002", True, None, {"manage_stock": False, "backorders": "no"}, unlimited=True)],
    ]


async def test_fake_refuses_batches_over_the_documented_maximum(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    """The limit the reconciler chunks by is the one the store enforces (core check_batch_limit)."""
    body = {"update": [{"id": n, "stock_status": "instock"} for n in range(1, 102)]}
    auth = aiohttp.BasicAuth(KEY, CS)
    async with session.post(f"{fake.base_url}/wp-json/wc/v3/products/batch", json=body, auth=auth) as answer:
        assert answer.status == 413
        assert (await answer.json())["code"] == "woocommerce_rest_request_entity_too_large"
    async with session.get(f"{fake.base_url}/wp-json/wc/v3/products?per_page=101", auth=auth) as answer:
        assert answer.status == 400


async def test_the_registry_builds_it_with_the_store_budget(
    fake: WooCommerceFake, session: aiohttp.ClientSession
) -> None:
    settings = {"base_url": fake.base_url, "requests_per_second": 50}
    store = StoreConfig("w9", "woocommerce", "europe", "woo", settings=settings)
    credential = Secret("woo", json.dumps({"consumer_key": KEY, "consumer_secret": CS}))
    reconciler = ReconcilerFactory(session).build(store, credential)
    assert isinstance(reconciler, WooCommerceReconciler)
    assert reconciler.capabilities.rate_budget.requests_per_second == 50.0
    fake.add(FakeItem(1, manage_stock=True, stock_quantity=2))
    assert [o.quantity for o in await reconciler.observe([SyncedVariant("w9", "1", "v1")])] == [2]
