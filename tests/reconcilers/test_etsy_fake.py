"""The Etsy fake behaves as Etsy documents it (caps, auth, replace semantics, new ids, throttle), and
EtsyReconciler works against it through the shared transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, StoreConfig, StoreMode, StoreRules, SyncedVariant
from reconcilers import tokens
from reconcilers.etsy import EtsyReconciler
from reconcilers.interface import ReconcilerContext
from tests.reconcilers.fakes.etsy_fake import EtsyFake
from tests.reconcilers.wire import quick_transport

SHOP, KEY = 5550001, "ks:secret"
HEADERS = {"x-api-key": KEY, "Authorization": "Bearer tok"}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[EtsyFake, str]]:
    tokens.KEPT.clear()
    server = EtsyFake("ks", "secret", "tok", SHOP, "whsec_" + "a2V5")
    base = await server.start()
    yield server, base
    await server.stop()


def build(session: aiohttp.ClientSession, server: EtsyFake, base: str, **fields: str) -> EtsyReconciler:
    store = StoreConfig(
        "e1",
        "etsy",
        "europe",
        "etsy",
        rules=StoreRules(mode=StoreMode.QUANTITY),
        settings={"base_url": base, "token_url": server.token_url, "shop_id": SHOP},
    )
    transport = quick_transport(session, "etsy", "e1")
    credential = {"keystring": "ks", "shared_secret": "secret", "access_token": "tok", **fields}
    return EtsyReconciler(ReconcilerContext(store, transport, Secret("etsy", json.dumps(credential))))


async def test_the_fake_checks_key_token_and_the_100_id_cap(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(1, [("A", 1)])
    url = f"{base}/listings/batch/inventory"
    async with session.get(url, params={"listing_ids": "1"}, headers={**HEADERS, "x-api-key": "ks"}) as r:
        assert r.status == 403 and "error" in await r.json()
    async with session.get(
        url, params={"listing_ids": "1"}, headers={**HEADERS, "Authorization": "Bearer x"}
    ) as r:
        assert r.status == 401
    ids = ",".join(str(i) for i in range(1, 102))
    async with session.get(url, params={"listing_ids": ids}, headers=HEADERS) as r:
        assert r.status == 400
    async with session.get(url, params={"listing_ids": "1,2"}, headers=HEADERS) as r:
        body = await r.json()
        assert r.headers["x-remaining-today"] and r.headers["x-limit-per-day"] == "10000"
    assert [x["listing_id"] for x in body["results"]] == [1] and body["results"][0]["state"] == "active"


async def test_the_fake_replaces_the_inventory_mints_new_ids_and_refuses_all_zero(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(1, [("A", 1), ("B", 2)])
    before = server.product(1, "A")
    assert before is not None
    offering = {"price": 12.5, "quantity": 3, "is_enabled": True, "readiness_state_id": 77}
    url = f"{base}/listings/1/inventory"
    async with session.put(
        url, json={"products": [{"sku": "A", "offerings": [offering]}]}, headers=HEADERS
    ) as r:
        assert r.status == 200
    after = server.product(1, "A")
    assert after is not None and after["product_id"] != before["product_id"]
    assert server.product(1, "B") is None  # left out of the PUT: gone
    zero = {"products": [{"sku": "A", "offerings": [{**offering, "quantity": 0}]}]}
    async with session.put(url, json=zero, headers=HEADERS) as r:
        assert r.status == 400 and "greater than 0" in (await r.json())["error"]
    stale = {"products": [{**after, "offerings": [offering]}]}  # read-only product_id sent back
    async with session.put(url, json=stale, headers=HEADERS) as r:
        assert r.status == 400


async def test_the_fake_throttles_with_retry_after(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.throttle_next = 1
    async with session.get(f"{base}/listings/batch/inventory?listing_ids=1", headers=HEADERS) as r:
        assert r.status == 429 and r.headers["retry-after"] == "1"


async def test_the_reconciler_keeps_every_product_and_field_it_does_not_own(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(7, [("S", 1), ("M", 4), ("L", 0)])
    server.listings[7].inventory["products"][1]["offerings"][0]["is_enabled"] = False
    reconciler = build(session, server, base)
    variants = [SyncedVariant("e1", "7:S", "u1")]
    [seen] = await reconciler.observe(variants)
    result = await reconciler.apply(
        [Change("7:S", Availability(True, 6), seen.as_availability(), seen.platform_ref)]
    )
    assert result.failed == ()
    products = server.listings[7].inventory["products"]
    assert [(p["sku"], p["offerings"][0]["quantity"], p["offerings"][0]["is_enabled"]) for p in products] == [
        ("S", 6, True),
        ("M", 4, False),
        ("L", 0, True),
    ]
    assert [p["property_values"][0]["values"] for p in products] == [["S0"], ["S1"], ["S2"]]
    assert products[0]["offerings"][0]["price"]["amount"] == 1250
    assert (server.stats.reads, server.stats.puts) == (1, 1)


async def test_the_last_units_going_to_zero_deactivate_then_reactivate(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(8, [("S", 2), ("M", 0)])
    reconciler = build(session, server, base)
    off = await reconciler.apply([Change("8:S", Availability(False, 0))])
    assert [(o.available, o.quantity) for o in off.confirmed] == [(False, 0)]
    assert server.listings[8].state == "inactive" and server.stats.puts == 0
    [seen] = await build(session, server, base).observe([SyncedVariant("e1", "8:M", "u2")])
    assert (seen.available, seen.quantity) == (False, 0)
    on = await reconciler.apply([Change("8:M", Availability(True, 3))])
    assert [(o.available, o.quantity) for o in on.confirmed] == [(True, 3)]
    assert server.listings[8].state == "active"
    assert (server.quantity(8, "S"), server.quantity(8, "M")) == (0, 3)  # the held 2 is not sold again


async def test_an_expired_token_is_refreshed_against_the_fake(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(9, [("S", 2)])
    server.token = "rotated-by-etsy"
    reconciler = build(session, server, base, refresh_token=server.refresh_token)
    [seen] = await reconciler.observe([SyncedVariant("e1", "9:S", "u")])
    assert (seen.quantity, server.stats.refreshes) == (2, 1)


async def test_the_fake_refuses_values_that_differ_off_their_on_property(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    server.seed(1, [("A", 1)])
    offering = {"price": 12.5, "quantity": 3, "is_enabled": True, "readiness_state_id": 77}
    two = [{"sku": "A", "offerings": [offering]}, {"sku": "A", "offerings": [{**offering, "quantity": 4}]}]
    async with session.put(f"{base}/listings/1/inventory", json={"products": two}, headers=HEADERS) as r:
        assert r.status == 400 and "quantity_on_property" in (await r.json())["error"]
    body = {"products": two, "quantity_on_property": [513]}
    async with session.put(f"{base}/listings/1/inventory", json=body, headers=HEADERS) as r:
        assert r.status == 200
