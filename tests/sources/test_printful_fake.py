"""PrintfulReader against a local fake Printful API v2, through the shared transport with the reader's
shipped pacing and the default retry policy; traffic checked against the OpenAPI description when a
developer has it (tests/sources/printful_spec.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import StockStatus
from reconcilers.ratelimit import build_pacer
from reconcilers.transport import PermanentError, Transport
from sources.interface import SourceConfig, SourceContext, SourceError, SourceStock, Validators
from sources.printful import PrintfulReader
from tests.sources.fakes.printful_fake import PrintfulFake
from tests.sources.printful_spec import check_event, check_traffic, spec_file, spec_path

TOKEN = "pf-private-token-0123456789"
SECRET_KEY = "9f" * 64  # hex, as Printful hands it out
US, EU, WH = "pf-us", "pf-eu", "pf-wh"
CHARLOTTE = "Charlotte Steele Point, United States"
CHECKED: list[int] = []  # exchanges checked against the description, per test


@pytest.fixture
async def fake() -> AsyncIterator[tuple[PrintfulFake, str]]:
    server = PrintfulFake(TOKEN, SECRET_KEY)
    base = await server.start()
    yield server, base
    await server.stop()
    spec = spec_file()
    if spec is not None:  # every request the reader sent and every answer the fake gave
        CHECKED.append(check_traffic(server.seen, spec))


def build(
    session: aiohttp.ClientSession, base: str, variants: dict[str, str], **settings: Any
) -> PrintfulReader:
    source = SourceConfig(
        "pf",
        "printful",
        {"base_url": base, "regions": {"north_america": US, "europe": EU}, "technique": "dtg", **settings},
        "printful",
        frozenset({US, EU, WH}),
        variants,
    )
    transport = Transport(
        session, platform="printful", store_id="pf", pacer=build_pacer(PrintfulReader.rate_budget)
    )
    credential = Secret("printful", json.dumps({"token": TOKEN, "webhook_secret": SECRET_KEY}))
    return PrintfulReader(SourceContext(source, transport, credential))


def tee(na: str, eu: str, world: str = "in stock") -> dict[str, dict[str, str]]:
    return {
        "dtg": {"north_america": na, "europe": eu, "worldwide": world},
        "embroidery": {"north_america": "in stock", "europe": "in stock"},
    }


async def test_full_pull_pages_listed_products_and_reads_the_rest_one_by_one(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {
        71: {4000 + i: tee("in stock", "out of stock") for i in range(250)},
        19: {1320: tee("not fulfillable", "unknown"), 1321: tee("in stock", "in stock")},
    }
    server.catalog[71][4010] = tee("out of stock", "in stock")
    variants = {str(4000 + i): f"tee-{i}" for i in range(0, 250, 2)} | {"1320": "mug"}
    snapshot = await build(session, base, variants, products=[71]).pull(Validators())

    assert [(s.path, s.query.get("offset")) for s in server.seen] == [
        ("/v2/catalog-products/71/availability", "0"),
        ("/v2/catalog-products/71/availability", "100"),
        ("/v2/catalog-products/71/availability", "200"),
        ("/v2/catalog-variants/1320/availability", None),
    ]
    assert all(
        s.query["selling_region_name"] == "all" and s.query["techniques"] == "dtg" for s in server.seen
    )
    rows = {(r.variant_id, r.facility_id): r for r in snapshot.rows}  # type: ignore[union-attr]
    assert len(rows) == 125 * 2 + 1  # worldwide is not mapped; the mug's "unknown" europe keeps its stock
    assert rows[("tee-0", US)] == SourceStock("tee-0", US, StockStatus.IN_STOCK, None)
    assert rows[("tee-0", EU)].status is StockStatus.OUT_OF_STOCK
    assert rows[("tee-10", US)].status is StockStatus.OUT_OF_STOCK
    assert rows[("tee-10", EU)].status is StockStatus.IN_STOCK
    assert rows[("mug", US)].status is StockStatus.OUT_OF_STOCK  # not fulfillable in the region
    assert ("mug", EU) not in rows
    assert snapshot.complete  # type: ignore[union-attr]
    assert len(server.seen) == 4


async def test_one_mapped_region_is_asked_by_name(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {71: {4011: tee("in stock", "out of stock")}}
    reader = build(session, base, {"4011": "tee"}, regions={"europe": EU}, products=[71])
    snapshot = await reader.pull(Validators())
    assert server.seen[0].query["selling_region_name"] == "europe"
    assert list(snapshot.rows) == [SourceStock("tee", EU, StockStatus.OUT_OF_STOCK, None)]  # type: ignore[union-attr]


async def test_a_truncated_page_applies_nothing(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {71: {4000 + i: tee("in stock", "in stock") for i in range(150)}}
    server.truncate_next = True
    with pytest.raises(SourceError) as caught:
        await build(session, base, {"4001": "tee"}, products=[71]).pull(Validators())
    assert caught.value.where.startswith("/v2/catalog-products/71/availability?offset=")


async def test_a_covered_variant_printful_no_longer_has_is_named(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {71: {4011: tee("in stock", "in stock")}}
    with pytest.raises(SourceError) as caught:
        await build(session, base, {"4011": "tee", "9999": "gone"}, products=[71]).pull(Validators())
    assert caught.value.where == "catalog variant 9999"


async def test_an_empty_bucket_is_waited_out_with_retry_after(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {71: {4000 + i: tee("in stock", "in stock") for i in range(6)}}
    variants = {str(4000 + i): f"tee-{i}" for i in range(6)}
    server.drain()  # another app of the merchant spent the shared budget
    snapshot = await build(session, base, variants).pull(Validators())  # no products listed: 6 requests
    # one 429: the retry waited for Retry-After (an early one meets an empty bucket again), and the
    # pacer kept the other five requests within the refill rate
    assert [s.status for s in server.seen] == [429] + [200] * 6
    assert server.seen[0].path == server.seen[1].path
    assert len(snapshot.rows) == 12  # type: ignore[union-attr]


async def test_warehouse_quantities_per_mapped_facility(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.warehouse = {
        356: {32453: {CHARLOTTE: (10, 7), "Riga, Latvia": (5, 5)}, 32454: {CHARLOTTE: (3, 0)}},
        357: {40000: {CHARLOTTE: (1, 1)}},
    }
    variants = {"warehouse:32453": "hoodie-m", "warehouse:32454": "hoodie-l"}
    reader = build(session, base, variants, regions={}, warehouse_facilities={CHARLOTTE: WH})
    snapshot = await reader.pull(Validators())
    assert [s.path for s in server.seen] == ["/v2/warehouse-products", "/v2/warehouse-products/356"]
    assert sorted(snapshot.rows, key=lambda r: r.variant_id) == [  # type: ignore[union-attr]
        SourceStock("hoodie-l", WH, StockStatus.OUT_OF_STOCK, 0),
        SourceStock("hoodie-m", WH, StockStatus.IN_STOCK, 7),
    ]


async def test_account_level_token_sends_the_store_id(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.store_id = "12"
    server.catalog = {71: {4011: tee("in stock", "in stock")}}
    with pytest.raises(PermanentError):
        await build(session, base, {"4011": "tee"}).pull(Validators())
    snapshot = await build(session, base, {"4011": "tee"}, store_id="12").pull(Validators())
    assert len(snapshot.rows) == 2  # type: ignore[union-attr]
    assert server.seen[-1].headers["X-PF-Store-Id"] == "12"


async def test_signed_stock_webhook_pulls_only_the_named_variants(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.catalog = {71: {4011: tee("out of stock", "in stock"), 4012: tee("in stock", "in stock")}}
    reader = build(session, base, {"4011": "tee-s", "4012": "tee-m"}, products=[71, 19])
    received: list[frozenset[str]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if not reader.verify_callback(request.headers, body):
            return web.Response(status=401)
        received.append(reader.parse_callback(request.headers, body).pull_ids)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/callback", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/callback"
    try:
        assert (
            await server.send_stock_updated(session, url, [(71, 4011, "out of stock"), (71, 9, "in stock")])
            == 200
        )
        server.secret_key = "00" * 64  # a rotated config: the old secret no longer verifies it
        assert await server.send_stock_updated(session, url, [(71, 4012, "out of stock")]) == 401
    finally:
        await runner.cleanup()
    assert received == [frozenset({"4011"})]

    snapshot = await reader.pull(Validators(), only=received[0])
    assert [s.path for s in server.seen] == [
        "/v2/catalog-variants/4011/availability"
    ]  # 1 < 2 listed products
    assert not snapshot.complete  # type: ignore[union-attr]
    assert {(r.variant_id, r.facility_id, r.status) for r in snapshot.rows} == {  # type: ignore[union-attr]
        ("tee-s", US, StockStatus.OUT_OF_STOCK),
        ("tee-s", EU, StockStatus.IN_STOCK),
    }


async def test_the_fakes_traffic_and_webhook_follow_the_openapi_description(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    """Every endpoint the reader uses, once, checked against the description (skipped without it)."""
    path = spec_path()
    server, base = fake
    server.catalog = {71: {4011: tee("in stock", "out of stock")}, 19: {1320: tee("in stock", "in stock")}}
    server.warehouse = {356: {32453: {CHARLOTTE: (3, 2)}}}
    variants = {"4011": "tee", "1320": "mug", "warehouse:32453": "hoodie"}
    await build(session, base, variants, products=[71], warehouse_facilities={CHARLOTTE: WH}).pull(
        Validators()
    )
    assert check_traffic(server.seen, path) == 4
    check_event("catalog_stock_updated", server.stock_event([(71, 4011, "out of stock")]))


async def test_a_stale_or_misconfigured_warehouse_mapping_is_named(
    session: aiohttp.ClientSession, fake: tuple[PrintfulFake, str]
) -> None:
    server, base = fake
    server.warehouse = {356: {32453: {CHARLOTTE: (1, 1)}}}
    stale = {"warehouse:32453": "hoodie-m", "warehouse:99": "gone"}
    with pytest.raises(SourceError) as caught:
        await build(session, base, stale, warehouse_facilities={CHARLOTTE: WH}).pull(Validators())
    assert caught.value.where == "source mapping 'warehouse:99'"
    with pytest.raises(SourceError) as unmapped:
        await build(session, base, {"warehouse:32453": "hoodie-m"}).pull(Validators())
    assert "no warehouse_facilities" in unmapped.value.reason
    assert [s.path for s in server.seen] == ["/v2/warehouse-products"]  # the misconfigured one sent nothing
