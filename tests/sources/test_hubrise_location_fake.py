"""HubRiseLocationReader against a local fake HubRise location, through the shared transport with its
shipped retry policy and the reader's own rate budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.errors import InputError
from daemon.model import StockStatus
from reconcilers.ratelimit import build_pacer
from reconcilers.transport import AuthError, PermanentError, TemporaryError, Transport
from sources.hubrise_location import HubRiseLocationReader
from sources.interface import Snapshot, SourceCallback, SourceConfig, SourceContext, SourceStock, Validators
from tests.sources.fakes.hubrise_location_fake import HubRiseLocationFake

TOKEN, CLIENT_SECRET = "fake-src-access-token", "fake-src-client-secret"
CREDENTIAL = Secret("pos-hubrise", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
MAPPINGS = {f"SKU{i}": f"v{i}" for i in range(50)}
IN, OUT = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[tuple[HubRiseLocationFake, str]]:
    server = HubRiseLocationFake(TOKEN, CLIENT_SECRET, "cat1", "loc-1")
    base = await server.start()
    yield server, base
    await server.stop()


def build(session: aiohttp.ClientSession, base: str, **settings: Any) -> HubRiseLocationReader:
    config = SourceConfig(
        "pos",
        "hubrise_location",
        {"base_url": base, "catalog_id": "cat1", "location_id": "loc-1", "facility_id": "paris", **settings},
        "pos-hubrise",
        frozenset({"paris", "lyon"}),
        MAPPINGS,
    )
    pacer = build_pacer(HubRiseLocationReader.rate_budget)
    transport = Transport(
        session, platform="hubrise_location", store_id="pos", pacer=pacer
    )  # shipped retries
    return HubRiseLocationReader(SourceContext(config, transport, CREDENTIAL))


def by_variant(snapshot: object) -> dict[str, tuple[StockStatus, int | None]]:
    assert isinstance(snapshot, Snapshot)
    return {row.variant_id: (row.status, row.quantity) for row in snapshot.rows}


async def test_a_pull_states_every_covered_variant(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.inventory = {("sku_ref", "SKU1"): "0", ("sku_ref", "SKU2"): "12", ("sku_ref", "OTHER"): "0"}
    got = by_variant(await build(session, base).pull(Validators()))
    assert len(got) == 50 and server.stats.gets == 1
    assert got["v1"] == (OUT, 0) and got["v2"] == (IN, 12)
    assert all(got[f"v{i}"] == (IN, None) for i in range(3, 50))  # no entry: in stock
    assert "OTHER" not in str(got)


async def test_a_bridge_patch_reaches_us_signed_and_is_applied_like_an_event(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    reader = build(session, base)
    received: asyncio.Queue[SourceCallback] = asyncio.Queue()

    async def callback(request: web.Request) -> web.Response:  # what the daemon's endpoint does
        body = await request.read()
        if not reader.verify_callback(request.headers, body):
            return web.Response(status=401)
        try:
            received.put_nowait(reader.parse_callback(request.headers, body))
        except InputError:
            return web.Response(status=400)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/sources/pos/callback", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/sources/pos/callback"
    try:
        headers, body = server.bridge_patch(
            [{"sku_ref": "SKU7", "stock": "0"}, {"sku_ref": "SKU8", "stock": None}]
        )
        assert await server.deliver(session, url, headers, body) == 200
        forged = {**headers, "X-HubRise-Hmac-SHA256": server.sign(body)[::-1]}
        assert await server.deliver(session, url, forged, body) == 401
        tampered = body.replace(b'"0"', b'"9"')
        assert await server.deliver(session, url, headers, tampered) == 401
        unsigned = {"Content-Type": "application/json"}
        assert await server.deliver(session, url, unsigned, body) == 401
    finally:
        await runner.cleanup()
    patch = received.get_nowait()
    assert received.empty()  # only the authentic delivery was parsed
    assert list(patch.rows) == [SourceStock("v7", "paris", OUT, 0), SourceStock("v8", "paris", IN, None)]
    assert patch.delivery_id == "ev1" and patch.occurred_at is not None
    assert server.stats.requests == 0  # a patch callback costs no request to HubRise


async def test_an_update_callback_pulls_the_replaced_inventory(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    reader = build(session, base)
    server.inventory = {("sku_ref", f"SKU{i}"): "0" for i in range(10)}
    headers, body = server.bridge_replace([{"sku_ref": "SKU3", "stock": "0"}])  # others removed: unlimited
    assert reader.verify_callback(headers, body)
    update = reader.parse_callback(headers, body)
    assert update.rows == () and update.pull_ids == frozenset(MAPPINGS)
    snapshot = await reader.pull(Validators(), only=update.pull_ids)
    got = by_variant(snapshot)
    assert isinstance(snapshot, Snapshot) and not snapshot.complete and len(got) == 50
    assert got["v3"] == (OUT, 0) and got["v0"] == (IN, None) and got["v9"] == (IN, None)


async def test_a_read_cut_short_returns_nothing_and_the_next_whole_one_is_read(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.inventory = {("sku_ref", f"SKU{i}"): "0" for i in range(50)}
    server.truncate_next = 100
    reader = build(session, base)
    with pytest.raises(TemporaryError):  # never half an inventory read as "the rest is in stock"
        await reader.pull(Validators())
    assert server.stats.truncated >= 2
    server.truncate_next = 1  # cut once, then whole: the retry reads it all
    got = by_variant(await reader.pull(Validators()))
    assert set(got.values()) == {(OUT, 0)}


async def test_a_throttled_read_waits_and_succeeds(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.throttle_next, server.retry_after = 1, "1"
    server.inventory = {("sku_ref", "SKU0"): "0"}
    got = by_variant(await build(session, base).pull(Validators()))
    assert got["v0"] == (OUT, 0)
    assert server.stats.throttled_429 == 1 and server.stats.gets == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [({"token": "rotated"}, AuthError), ({"location_id": "loc-2"}, PermanentError)],
)
async def test_a_refused_read_raises(
    session: aiohttp.ClientSession, fake: Any, change: dict[str, str], error: type[Exception]
) -> None:
    server, base = fake
    for name, value in change.items():
        setattr(server, name, value)
    with pytest.raises(error) as caught:
        await build(session, base).pull(Validators())
    assert TOKEN not in str(caught.value)


async def test_an_etag_if_the_location_sends_one_makes_an_unchanged_pull_a_304(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.etag = True  # not documented by HubRise: used only when it is there
    reader = build(session, base)
    first = await reader.pull(Validators())
    assert isinstance(first, Snapshot) and first.validators.etag == '"v0"'
    again = await reader.pull(first.validators)
    assert not isinstance(again, Snapshot) and server.stats.not_modified == 1
    server.bridge_patch([{"sku_ref": "SKU1", "stock": "0"}])
    assert by_variant(await reader.pull(first.validators))["v1"] == (OUT, 0)


async def test_pages_if_the_location_paginates_are_all_read(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.page_size = 20  # not documented for inventories: followed, never read as the whole
    server.inventory = {("sku_ref", f"SKU{i}"): "0" for i in range(50)}
    got = by_variant(await build(session, base).pull(Validators()))
    assert server.stats.gets == 3 and set(got.values()) == {(OUT, 0)}
