"""ShopifyReconciler against the local Shopify fake: batching, partial failure, throttling, webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import CostPointsPacer
from reconcilers.shopify import API_VERSION, ShopifyReconciler
from reconcilers.transport import RetryPolicy, Transport
from tests.reconcilers.fakes.shopify_fake import ShopifyFake

TOKEN = "shpat_fake"
SECRET = "fake-client-secret"
Received = asyncio.Queue[tuple[dict[str, str], bytes]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Received]]:
    received: Received = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        received.put_nowait((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/shopify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/shopify", received
    await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[ShopifyFake]:
    # a fast-restoring bucket keeps the test quick; the pacer learns it from the first answer
    shop = ShopifyFake(token=TOKEN, client_secret=SECRET, version=API_VERSION, restore_rate=50_000.0)
    await shop.start()
    yield shop
    await shop.close()


def build(
    fake: ShopifyFake, session: aiohttp.ClientSession, pacer: CostPointsPacer | None = None
) -> ShopifyReconciler:
    settings = {"base_url": fake.base_url, "location_id": "gid://shopify/Location/77", "shop_domain": "acme"}
    store = StoreConfig("s1", "shopify", "eu", "shopify-acme", settings=settings)
    budget = ShopifyReconciler.capabilities.rate_budget
    transport = Transport(
        session,
        platform="shopify",
        store_id="s1",
        pacer=pacer or CostPointsPacer(budget.bucket_size, budget.restore_rate),
        retry=RetryPolicy(attempts=4, base_delay=0.01),
    )
    credential = Secret("shopify-acme", json.dumps({"access_token": TOKEN, "client_secret": SECRET}))
    return ShopifyReconciler(ReconcilerContext(store, transport, credential))


def gid(n: int) -> str:
    return f"gid://shopify/ProductVariant/{n}"


async def test_observe_many_variants_in_cost_limited_batches(
    fake: ShopifyFake, session: aiohttp.ClientSession
) -> None:
    for n in range(1, 1001):
        fake.add_variant(n, n % 3)
    fake.add_variant(2000, 5, tracked=False)
    shop = build(fake, session)
    wanted = [SyncedVariant("s1", gid(n), f"v{n}") for n in [*range(1, 1001), 2000, 9999]]
    observed = await shop.observe(wanted)
    assert fake.stats.observe_calls == 6  # 1002 ids / 200 per query, none of them over 1000 points
    by_id = {o.external_id: o for o in observed}
    assert len(by_id) == 1001 and gid(9999) not in by_id
    assert by_id[gid(4)] == Observed(
        gid(4),
        True,
        1,
        {"inventory_item_id": "gid://shopify/InventoryItem/100004", "inventory_policy": "DENY"},
    )
    assert (by_id[gid(3)].available, by_id[gid(3)].quantity) == (False, 0)
    assert (by_id[gid(2000)].available, by_id[gid(2000)].quantity) == (None, None)
    # steady state: the pacer now follows the shop's bucket, so a second pass is never throttled
    throttled = fake.stats.throttled
    await shop.observe(wanted)
    assert fake.stats.throttled == throttled


async def test_apply_one_batch_at_the_maximum(fake: ShopifyFake, session: aiohttp.ClientSession) -> None:
    for n in range(1, 251):
        fake.add_variant(n, 3)
    shop = build(fake, session)
    observed = await shop.observe([SyncedVariant("s1", gid(n), f"v{n}") for n in range(1, 251)])
    changes = [
        Change(o.external_id, Availability(False), Availability(True, 3), o.platform_ref) for o in observed
    ]
    result = await shop.apply(changes)
    assert fake.stats.batch_sizes == [250]
    assert len(result.confirmed) == 250 and result.failed == ()
    assert all(v.levels[77] == 0 for v in fake.variants.values())


async def test_items_that_cannot_be_enforced_are_problems_and_never_sent(
    fake: ShopifyFake, session: aiohttp.ClientSession
) -> None:
    fake.add_variant(1, 5)
    fake.add_variant(2, None)  # not stocked at the location: the mutation would refuse the batch
    fake.add_variant(3, 5)
    fake.variants[3].tracked = False  # Shopify ignores its quantities
    fake.add_variant(4, 0)
    fake.variants[4].policy = "CONTINUE"  # keeps selling at 0
    shop = build(fake, session)
    observed = await shop.observe([SyncedVariant("s1", gid(n), "v") for n in range(1, 5)])
    assert [o.problem is not None for o in observed] == [False, True, True, True]
    changes = [Change(o.external_id, Availability(False, 0), None, o.platform_ref) for o in observed]
    result = await shop.apply(changes)
    assert [o.external_id for o in result.confirmed] == [gid(1)]
    assert {f.external_id: f.kind for f in result.failed} == {
        gid(2): FailureKind.PROBLEM,
        gid(3): FailureKind.PROBLEM,
        gid(4): FailureKind.PROBLEM,
    }
    assert fake.stats.mutation_calls == 1 and fake.stats.batch_sizes == [1]  # one call, only item 1


async def test_partial_failure_and_compare_and_set(fake: ShopifyFake, session: aiohttp.ClientSession) -> None:
    for n in (1, 2, 3):
        fake.add_variant(n, 5)
    fake.add_variant(4, None)  # not stocked at the location
    shop = build(fake, session)
    observed = {
        o.external_id: o for o in await shop.observe([SyncedVariant("s1", gid(n), "v") for n in range(1, 5)])
    }
    await fake.manual_edit(2, 9)  # someone edits after our read
    changes = [
        Change(
            gid(n), Availability(True, 7), observed[gid(n)].as_availability(), observed[gid(n)].platform_ref
        )
        for n in (1, 2, 3, 4)
    ]
    first = await shop.apply(changes)
    failed = {f.external_id: f for f in first.failed}
    assert failed[gid(2)].permanent and "CHANGE_FROM_QUANTITY_STALE" in failed[gid(2)].reason
    assert failed[gid(4)].kind is FailureKind.PROBLEM and "not stocked" in failed[gid(4)].reason
    assert not failed[gid(1)].permanent and not failed[gid(3)].permanent  # all-or-nothing batch
    assert fake.variants[2].levels[77] == 9 and fake.variants[1].levels[77] == 5  # nothing written
    retry = await shop.apply([c for c in changes if c.external_id in (gid(1), gid(3))])
    assert [o.external_id for o in retry.confirmed] == [gid(1), gid(3)] and retry.failed == ()
    assert fake.variants[1].levels[77] == 7


async def test_throttling_is_honoured_without_an_error(
    fake: ShopifyFake, session: aiohttp.ClientSession
) -> None:
    for n in range(1, 21):
        fake.add_variant(n, 1)
    fake.restore_rate = 400.0  # slow enough that the drained bucket cannot pay 81 points at once
    fake.drain(0)  # another job of this app used the whole bucket
    pacer = CostPointsPacer(1000, 100)  # and we do not know it yet
    observed = await build(fake, session, pacer).observe(
        [SyncedVariant("s1", gid(n), "v") for n in range(1, 21)]
    )
    assert len(observed) == 20 and fake.stats.throttled == 1 and fake.stats.observe_calls == 1
    assert pacer.restore_rate == 400.0  # learnt from throttleStatus


async def test_server_errors_are_retried_and_the_write_applies_once(
    fake: ShopifyFake, session: aiohttp.ClientSession
) -> None:
    fake.add_variant(1, 2)
    shop = build(fake, session)
    [seen] = await shop.observe([SyncedVariant("s1", gid(1), "v")])
    fake.fail_next = [502, 503]
    result = await shop.apply(
        [Change(gid(1), Availability(True, 8), seen.as_availability(), seen.platform_ref)]
    )
    assert [o.quantity for o in result.confirmed] == [8] and fake.stats.mutation_calls == 1


async def test_webhook_from_the_fake_is_verified_and_parsed(
    fake: ShopifyFake, session: aiohttp.ClientSession, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    fake.webhook_url = url
    fake.add_variant(1, 4)
    fake.add_variant(2, 4, location=78)
    shop = build(fake, session)
    await fake.manual_edit(1, 0)
    await fake.manual_edit(2, 0, location=78)
    headers, body = await asyncio.wait_for(received.get(), 5)
    assert shop.verify_webhook(headers, body)
    assert shop.parse_webhook(headers, body) == [
        Observed(
            "gid://shopify/InventoryItem/100001",
            False,
            0,
            {"inventory_item_id": "gid://shopify/InventoryItem/100001"},
        )
    ]
    other_headers, other_body = await asyncio.wait_for(received.get(), 5)
    assert shop.verify_webhook(other_headers, other_body)
    assert shop.parse_webhook(other_headers, other_body) == []  # another location: not ours
    assert not shop.verify_webhook(headers, body.replace(b'"available": 0', b'"available": 5'))
