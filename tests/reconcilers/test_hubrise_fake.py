"""HubRiseReconciler against a local fake HubRise inventory API, through the shared transport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, Observed, StoreConfig, SyncedVariant
from reconcilers.hubrise import HubRiseReconciler
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import build_pacer
from reconcilers.transport import RetryPolicy, TemporaryError, Transport
from tests.reconcilers.fakes.hubrise_fake import HubRiseFake
from tests.reconcilers.wire import quick_transport

TOKEN, CLIENT_SECRET = "fake-access-token", "fake-client-secret"
CREDENTIAL = Secret("hr", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))


@pytest.fixture
async def fake() -> AsyncIterator[tuple[HubRiseFake, str]]:
    server = HubRiseFake(TOKEN, CLIENT_SECRET, "cat1", "loc-1")
    base = await server.start()
    yield server, base
    await server.stop()


def build(session: aiohttp.ClientSession, base: str, **settings: Any) -> HubRiseReconciler:
    store = StoreConfig(
        "h1",
        "hubrise",
        "europe",
        "hr",
        settings={"base_url": base, "catalog_id": "cat1", "location_id": "loc-1", **settings},
    )
    transport = quick_transport(session, "hubrise", "h1")
    return HubRiseReconciler(ReconcilerContext(store, transport, CREDENTIAL))


async def test_observe_many_variants_in_one_read(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.inventory = {("sku_ref", f"S{i}"): ("0" if i % 2 else str(i)) for i in range(300)}
    wanted = [SyncedVariant("h1", f"sku:S{i}", f"u{i}") for i in range(0, 300, 3)]
    wanted.append(SyncedVariant("h1", "option:NEW", "u-new"))
    observed = await build(session, base).observe(wanted)
    assert server.stats.gets == 1
    assert len(observed) == 101
    assert observed[1] == Observed("sku:S3", False, 0)
    assert observed[2] == Observed("sku:S6", True, 6)
    assert observed[-1] == Observed("option:NEW", True, None, unlimited=True)


async def test_apply_in_batches_then_reads_back(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.inventory = {("option_ref", "EGG"): "0"}
    changes = [Change(f"sku:S{i}", Availability(False, 0)) for i in range(25)]
    changes.append(Change("option:EGG", Availability(True, None)))  # back to unlimited: entry removed
    changes.append(Change("bad", Availability(False, 0)))  # refused locally, the rest still written
    reconciler = build(session, base, batch_limit=30)
    result = await reconciler.apply(changes)
    assert server.stats.patch_sizes == [26]
    assert len(result.confirmed) == 26
    assert [f.external_id for f in result.failed] == ["bad"]
    assert ("option_ref", "EGG") not in server.inventory
    assert server.inventory[("sku_ref", "S24")] == "0"
    back = await reconciler.observe(
        [SyncedVariant("h1", "option:EGG", "u"), SyncedVariant("h1", "sku:S0", "v")]
    )
    assert back == [Observed("option:EGG", True, None, unlimited=True), Observed("sku:S0", False, 0)]
    assert server.stats.puts == 0  # never the whole-inventory replace


async def test_a_429_is_honoured_without_error(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.throttle_next = 1
    result = await build(session, base).apply([Change("sku:A", Availability(True, 3))])
    assert result.confirmed == (Observed("sku:A", True, 3),)
    assert server.stats.throttled_429 == 1 and server.stats.patches == 1


async def test_a_429_without_retry_after_backs_off_and_succeeds(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.throttle_next, server.retry_after = 2, None  # the docs promise no Retry-After header
    observed = await build(session, base).observe([SyncedVariant("h1", "sku:A", "u")])
    assert observed == [Observed("sku:A", True, None, unlimited=True)]
    assert server.stats.throttled_429 == 2 and server.stats.gets == 1


async def test_wrong_token_fails_every_item_permanently(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.token = "rotated"
    result = await build(session, base).apply([Change("sku:A", Availability(False, 0))])
    assert result.confirmed == () and result.failed[0].permanent and "401" in result.failed[0].reason
    assert server.inventory == {}


async def test_a_signed_callback_from_the_fake_is_verified_and_parsed(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    received: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        received.put_nowait((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hubrise_callback", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        server.callback_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hubrise_callback"
        await server.manual_patch(
            session, [{"sku_ref": "A", "stock": "0"}, {"option_ref": "B", "stock": None}]
        )
        headers, body = await asyncio.wait_for(received.get(), timeout=5)
    finally:
        await runner.cleanup()
    reconciler = build(session, base)
    assert reconciler.verify_webhook(headers, body) is True
    assert reconciler.verify_webhook(headers, body.replace(b'"0"', b'"9"')) is False
    assert reconciler.parse_webhook(headers, body) == [
        Observed("sku:A", False, 0),
        Observed("option:B", True, None, unlimited=True),
    ]


async def test_a_429_without_retry_after_waits_for_the_next_round_window(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    # the documented windows are aligned on the round minute/hour/day: back-off retries inside the
    # window only burn requests; the store waits for the boundary instead
    server, base = fake
    server.throttle_next, server.retry_after = 2, None
    store = StoreConfig(
        "h1",
        "hubrise",
        "europe",
        "hr",
        settings={"base_url": base, "catalog_id": "cat1", "location_id": "loc-1"},
    )
    pacer = build_pacer(HubRiseReconciler.capabilities.rate_budget)
    transport = Transport(
        session, platform="hubrise", store_id="h1", pacer=pacer, retry=RetryPolicy(max_retry_after=0.0)
    )
    before = time.time()
    with pytest.raises(TemporaryError) as caught:
        await HubRiseReconciler(ReconcilerContext(store, transport, CREDENTIAL)).observe(
            [SyncedVariant("h1", "sku:A", "u")]
        )
    assert server.stats.throttled_429 == 1  # no retry burnt inside the window
    assert caught.value.retry_after is not None
    until_minute = 60 - before % 60
    assert until_minute - 1 <= caught.value.retry_after <= until_minute + 1


async def test_the_inventory_is_read_once_per_pass_whatever_the_chunks(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.inventory = {("sku_ref", f"S{i}"): "1" for i in range(10)}
    reconciler = build(session, base)
    for chunk in range(5):  # the engine observes `sync.observe_chunk` variants at a time
        await reconciler.observe([SyncedVariant("h1", f"sku:S{chunk * 2 + i}", "u") for i in range(2)])
    assert server.stats.gets == 1


async def test_an_inventory_update_callback_asks_for_a_reread(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    _, base = fake
    body = json.dumps(
        {
            "id": "ev9",
            "resource_type": "inventory",
            "event_type": "update",
            "created_at": "2026-11-23T09:00:00+01:00",
            "catalog_id": "cat1",
            "location_id": "loc-1",
        }
    ).encode()
    notification = build(session, base).parse_webhook({}, body)
    assert list(notification) == [] and notification.reread
    assert notification.delivery_id == "ev9"
    assert notification.occurred_at is not None and notification.occurred_at.utcoffset() is not None


async def test_a_422_names_the_fields_it_refused(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.field_errors = [{"field": "stock", "message": "must be a decimal"}]
    result = await build(session, base).apply([Change("sku:A", Availability(False, 0))])
    (failure,) = result.failed
    assert failure.permanent and "422" in failure.reason
    assert "stock: must be a decimal" in failure.reason
