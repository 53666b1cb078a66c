"""EtsyReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import (
    Availability,
    Change,
    FailureKind,
    Observed,
    StoreConfig,
    StoreMode,
    StoreRules,
    SyncedVariant,
)
from reconcilers import tokens
from reconcilers.etsy import EtsyReconciler
from reconcilers.interface import ReconcilerContext
from reconcilers.transport import AuthError
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "etsy"
API = "https://api.etsy.com/v3/application"
TOKEN_URL = "https://api.etsy.com/v3/public/oauth/token"
KEY = b"etsy-endpoint-key"
FIELDS = {
    "keystring": "ks123",
    "shared_secret": "shh-456",
    "access_token": "77.access-token-aaa",
    "refresh_token": "77.refresh-token-bbb",
    "webhook_secret": "whsec_" + base64.b64encode(KEY).decode(),
}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    tokens.KEPT.clear()  # refreshed tokens are kept per process: each test starts from its credential


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, fields: dict[str, str] = FIELDS, **settings: Any
) -> EtsyReconciler:
    rules = StoreRules(mode=StoreMode(settings.pop("mode", StoreRules().mode)))
    store = StoreConfig(
        "e1", "etsy", "europe", "etsy-shop", rules=rules, settings={"shop_id": 5550001, **settings}
    )
    transport = quick_transport(session, "etsy", "e1", attempts=2)
    return EtsyReconciler(ReconcilerContext(store, transport, Secret("etsy-shop", json.dumps(fields))))


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("e1", i, f"up-{i}") for i in ids]


def read_url(*listings: int) -> str:
    return f"{API}/listings/batch/inventory?listing_ids={','.join(map(str, listings))}"


def sent(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return mocked.requests.get((method, URL(url)), [])


def change(external_id: str, quantity: int | None, available: bool = True, ref: Any = None) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref)


def inventory_of(document: Any, listing: int) -> Any:
    return next(r for r in document["results"] if r["listing_id"] == listing)["inventory"]


async def test_observe_reads_listings_in_one_request_with_key_and_token(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(read_url(111, 222, 333, 999), payload=fixture("full"))
        got = await reconciler(session).observe(
            variants("111:TEE-S", "111:TEE-M", "111:TEE-L", "222:MUG", "333", "111", "999:GONE", "bad")
        )
        [call] = sent(m, "GET", read_url(111, 222, 333, 999))
    assert call.kwargs["headers"]["x-api-key"] == "ks123:shh-456"
    assert call.kwargs["headers"]["Authorization"] == "Bearer 77.access-token-aaa"
    by_id = {o.external_id: o for o in got}
    assert (by_id["111:TEE-S"].available, by_id["111:TEE-S"].quantity) == (True, 4)
    assert (by_id["111:TEE-M"].available, by_id["111:TEE-M"].quantity) == (False, 0)
    assert by_id["222:MUG"] == Observed(
        "222:MUG", False, 0, {"listing_id": 222, "state": "inactive", "held": 5}
    )
    assert "disabled" in (by_id["111:TEE-L"].problem or "")
    assert "expired" in (by_id["333"].problem or "")
    assert "3 products" in (by_id["111"].problem or "")
    assert set(by_id) == {"111:TEE-S", "111:TEE-M", "111:TEE-L", "222:MUG", "333", "111"}  # 999 not found


async def test_observe_minimal_zero_and_untracked_shapes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(read_url(444), payload=fixture("minimal"))
        m.get(read_url(555), payload=fixture("zero"))
        m.get(read_url(666), payload=fixture("untracked"))
        r = reconciler(session)
        [minimal] = await r.observe(variants("444"))
        [zero] = await r.observe(variants("555:CARD"))
        odd = {o.external_id: o for o in await r.observe(variants("666:DUP", "666:OFF", "666:HUGE"))}
    assert (minimal.available, minimal.quantity, minimal.problem) == (True, 1, None)
    assert (zero.available, zero.quantity, zero.problem) == (False, 0, None)
    assert "2 products" in (odd["666:DUP"].problem or "")
    assert "disabled" in (odd["666:OFF"].problem or "")
    assert "3000000000" in (odd["666:HUGE"].problem or "") and odd["666:HUGE"].quantity is None


async def test_observe_asks_for_at_most_100_listings_a_request(session: aiohttp.ClientSession) -> None:
    ids = list(range(1, 251))
    with aioresponses() as m:
        for chunk in (ids[:100], ids[100:200], ids[200:]):
            m.get(read_url(*chunk), payload={"count": 0, "results": []})
        assert await reconciler(session).observe(variants(*(f"{i}:S" for i in ids))) == []
        assert sum(len(v) for k, v in m.requests.items() if k[0] == "GET") == 3


async def test_a_write_puts_back_the_whole_inventory_with_only_our_quantity_changed(
    session: aiohttp.ClientSession,
) -> None:
    document = fixture("full")
    answer = json.loads(json.dumps(inventory_of(document, 111)))
    answer["products"][1]["offerings"][0]["quantity"] = 3
    answer["products"][1]["product_id"] = 99_002  # Etsy mints new ids on every update
    with aioresponses() as m:
        m.get(read_url(111), payload=document)
        m.put(f"{API}/listings/111/inventory", payload=answer)
        r = reconciler(session, mode="quantity")
        await r.observe(variants("111:TEE-M"))
        result = await r.apply([change("111:TEE-M", 3)])
        [put] = sent(m, "PUT", f"{API}/listings/111/inventory")
        assert len(sent(m, "GET", read_url(111))) == 1  # the inventory just observed is the base
    assert result.failed == () and [(o.available, o.quantity) for o in result.confirmed] == [(True, 3)]
    size = {"property_id": 513, "property_name": "Size", "scale_id": 37}
    assert put.kwargs["json"] == {
        "products": [
            {
                "sku": sku,
                "property_values": [{**size, "value_ids": [vid], "values": [val]}],
                "offerings": [{"price": price, "quantity": q, "is_enabled": on, "readiness_state_id": 77}],
            }
            for sku, vid, val, price, q, on in (
                ("TEE-S", 1, "S", 12.5, 4, True),
                ("TEE-M", 2, "M", 13.99, 3, True),
                ("TEE-L", 3, "L", 12.5, 7, False),
            )
        ],
        "price_on_property": [513],
        "quantity_on_property": [513],
        "sku_on_property": [513],
        "readiness_state_on_property": [],
    }


async def test_a_second_write_builds_on_the_answer_of_the_first(session: aiohttp.ClientSession) -> None:
    document = fixture("full")
    answer = json.loads(json.dumps(inventory_of(document, 111)))
    answer["products"][0]["offerings"][0]["quantity"] = 9
    with aioresponses() as m:
        m.get(read_url(111), payload=document)
        m.put(f"{API}/listings/111/inventory", payload=answer, repeat=True)
        r = reconciler(session, mode="quantity")
        await r.observe(variants("111:TEE-S"))
        await r.apply([change("111:TEE-S", 9)])
        await r.apply([change("111:TEE-M", 2)])
        first, second = sent(m, "PUT", f"{API}/listings/111/inventory")
    quantities = [p["offerings"][0]["quantity"] for p in second.kwargs["json"]["products"]]
    assert quantities == [9, 2, 7]  # the first write's 9 kept: never the stale read


async def test_nothing_left_to_sell_sets_the_listing_inactive_instead(session: aiohttp.ClientSession) -> None:
    document = {
        "count": 1,
        "results": [{"listing_id": 777, "state": "active", "inventory": inventory_of(fixture("full"), 222)}],
    }
    with aioresponses() as m:
        m.get(read_url(777), payload=document)
        m.patch(f"{API}/shops/5550001/listings/777", payload={"listing_id": 777, "state": "inactive"})
        result = await reconciler(session).apply([change("777:MUG", 0, available=False)])
        [patch] = sent(m, "PATCH", f"{API}/shops/5550001/listings/777")
        assert sent(m, "PUT", f"{API}/listings/777/inventory") == []  # Etsy refuses all-zero offerings
    assert patch.kwargs["data"] == b"state=inactive"
    assert [(o.external_id, o.available, o.quantity) for o in result.confirmed] == [("777:MUG", False, 0)]


async def test_an_inactive_listing_sells_again_with_its_other_products_at_zero(
    session: aiohttp.ClientSession,
) -> None:
    document = fixture("full")
    document["results"][0]["state"] = "inactive"
    answer = json.loads(json.dumps(inventory_of(document, 111)))
    for product, quantity in zip(answer["products"], (2, 0, 0), strict=True):
        product["offerings"][0]["quantity"] = quantity
    with aioresponses() as m:
        m.get(read_url(111), payload=document)
        m.put(f"{API}/listings/111/inventory", payload=answer)
        m.patch(f"{API}/shops/5550001/listings/111", payload={"listing_id": 111, "state": "active"})
        result = await reconciler(session, mode="quantity").apply([change("111:TEE-S", 2)])
        [put] = sent(m, "PUT", f"{API}/listings/111/inventory")
        [patch] = sent(m, "PATCH", f"{API}/shops/5550001/listings/111")
    assert [p["offerings"][0]["quantity"] for p in put.kwargs["json"]["products"]] == [2, 0, 0]
    assert patch.kwargs["data"] == b"state=active"
    assert [(o.available, o.quantity) for o in result.confirmed] == [(True, 2)]


async def test_a_sold_out_listing_is_renewed_only_when_the_store_allows_it(
    session: aiohttp.ClientSession,
) -> None:
    answer = json.loads(json.dumps(inventory_of(fixture("zero"), 555)))
    answer["products"][0]["offerings"][0]["quantity"] = 100
    with aioresponses() as m:
        m.get(read_url(555), payload=fixture("zero"), repeat=True)
        refused = await reconciler(session).apply([change("555:CARD", None)])
        assert [f.kind for f in refused.failed] == [FailureKind.PROBLEM]
        assert "listing fee" in refused.failed[0].reason and not sent(
            m, "PUT", f"{API}/listings/555/inventory"
        )
        m.put(f"{API}/listings/555/inventory", payload=answer)
        m.patch(f"{API}/shops/5550001/listings/555", payload={"state": "active"})
        renewed = await reconciler(session, renew_sold_out=True).apply([change("555:CARD", None)])
    assert [(o.available, o.quantity) for o in renewed.confirmed] == [
        (True, 100)
    ]  # status mode: pod quantity


async def test_a_refused_write_is_permanent_with_etsys_message(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(read_url(111), payload=fixture("full"))
        m.put(f"{API}/listings/111/inventory", status=400, payload=fixture("error"))
        result = await reconciler(session, mode="quantity").apply(
            [change("111:TEE-S", 1), change("111:TEE-M", 1)]
        )
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT, FailureKind.PERMANENT]
    assert "At least one offering" in result.failed[0].reason and "400" in result.failed[0].reason


async def test_counts_etsy_cannot_hold_and_unknown_products_are_not_written(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(read_url(111), payload=fixture("full"))
        result = await reconciler(session, mode="quantity").apply(
            [change("111:TEE-S", 1000), change("111:NOPE", 1)]
        )
        assert sent(m, "PUT", f"{API}/listings/111/inventory") == []
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {"111:TEE-S": FailureKind.PROBLEM, "111:NOPE": FailureKind.PERMANENT}


async def test_a_refused_token_is_refreshed_once_and_kept_for_the_next_pass(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(read_url(555), status=401, payload={"error": "invalid_token"})
        m.post(
            TOKEN_URL,
            payload={"access_token": "77.new-access", "refresh_token": "77.new-refresh", "expires_in": 3600},
        )
        m.get(read_url(555), payload=fixture("zero"), repeat=True)
        [seen] = await reconciler(session).observe(variants("555:CARD"))
        await reconciler(session).observe(variants("555:CARD"))  # the next pass's reconciler
        [post] = sent(m, "POST", TOKEN_URL)
        first, second, third = sent(m, "GET", read_url(555))
    assert (
        post.kwargs["data"] == b"grant_type=refresh_token&client_id=ks123&refresh_token=77.refresh-token-bbb"
    )
    assert [c.kwargs["headers"]["Authorization"] for c in (second, third)] == ["Bearer 77.new-access"] * 2
    assert (seen.available, seen.quantity) == (False, 0)


async def test_without_a_refresh_token_a_401_is_an_auth_error(session: aiohttp.ClientSession) -> None:
    fields = {k: v for k, v in FIELDS.items() if k != "refresh_token"}
    with aioresponses() as m:
        m.get(read_url(555), status=401, payload={"error": "invalid_token"})
        with pytest.raises(AuthError) as caught:
            await reconciler(session, fields).observe(variants("555:CARD"))
    assert "401" in str(caught.value) and "access-token" not in str(caught.value)


async def test_a_refused_refresh_asks_to_authorize_again(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(read_url(555), status=401, payload={"error": "invalid_token"})
        m.post(TOKEN_URL, status=400, payload={"error": "invalid_grant"})
        with pytest.raises(AuthError, match="re-authorize"):
            await reconciler(session).observe(variants("555:CARD"))


async def test_a_daily_budget_too_small_for_a_pass_is_logged_once(session: aiohttp.ClientSession) -> None:
    headers = {"x-remaining-today": "2", "x-limit-per-day": "10000"}  # one listing needs 1 read + 2 writes
    with aioresponses() as m, structlog.testing.capture_logs() as logs:
        m.get(read_url(555), payload=fixture("zero"), headers=headers, repeat=True)
        r = reconciler(session)
        await r.observe(variants("555:CARD"))
        await r.observe(variants("555:CARD"))
    short = [entry for entry in logs if entry["event"] == "etsy_daily_budget_short"]
    assert [(e["left"], e["needed"], e["limit"], e["store_id"]) for e in short] == [(2, 3, 10000, "e1")]


def signed(body: bytes, stamp: int | None = None, key: bytes = KEY) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(key, f"msg_1.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


async def test_webhooks_are_verified_the_standard_webhooks_way(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    body = b'{"event_type": "inventory.out_of_stock", "shop_id": "5550001", "resource_url": "x"}'
    assert r.verify_webhook(signed(body), body)
    assert not r.verify_webhook(signed(body), body + b" ")
    assert not r.verify_webhook(signed(body, stamp=int(time.time()) - 600), body)  # a replay of an old one
    assert not r.verify_webhook(signed(body, key=b"other"), body)


async def test_webhooks_ask_for_a_re_read_of_this_shop_only(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    body = b'{"event_type": "inventory.out_of_stock", "shop_id": "5550001", "resource_url": "x"}'
    note = r.parse_webhook(signed(body, stamp=1_765_000_000), body)
    assert (note.reread, list(note), note.delivery_id) == (True, [], "msg_1")
    assert note.occurred_at is not None and note.occurred_at.timestamp() == 1_765_000_000
    named = (
        b'{"event_type": "inventory.updated", "shop_id": "5550001",'
        b' "resource_url": "https://api.etsy.com/v3/application/listings/1234567/inventory"}'
    )
    listing = r.parse_webhook(signed(named), named)
    assert (listing.reread, listing.reread_products) == (False, frozenset({"1234567"}))  # that listing only
    assert r.capabilities.product_of("1234567:SKU-1") == "1234567"
    other = b'{"event_type": "listing.updated", "shop_id": "42", "resource_url": "x"}'
    assert not r.parse_webhook(signed(other), other).reread
    order = b'{"event_type": "order.paid", "shop_id": "5550001", "resource_url": "x"}'
    assert not r.parse_webhook(signed(order), order).reread
    with pytest.raises(InputError) as caught:
        r.parse_webhook(signed(b"{}"), b'{"shop_id": "5550001"}')
    assert caught.value.field == "event_type"


def test_settings_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="shop_id"):
        reconciler(session, shop_id="my-shop")
    with pytest.raises(ConfigError, match="https"):
        reconciler(session, base_url="http://api.example.com/v3/application")
    with pytest.raises(ConfigError, match="renew_sold_out"):
        reconciler(session, renew_sold_out="yes")
    with pytest.raises(ConfigError, match="page_size"):
        reconciler(session, page_size=10)


async def test_a_write_without_a_fresh_read_reads_its_listings_in_one_batch(
    session: aiohttp.ClientSession,
) -> None:
    document = fixture("full")
    document["results"] = [document["results"][1]]  # listing 222 only: 111 is gone from the shop
    answer = json.loads(json.dumps(inventory_of(document, 222)))
    answer["products"][0]["offerings"][0]["quantity"] = 2
    with aioresponses() as m:
        m.get(read_url(111, 222), payload=document)
        m.put(f"{API}/listings/222/inventory", payload=answer)
        m.patch(f"{API}/shops/5550001/listings/222", payload={"state": "active"})
        m.get(read_url(111), payload={"count": 0, "results": []})
        result = await reconciler(session, mode="quantity").apply(
            [change("222:MUG", 2), change("111:TEE-S", 1)]
        )
        assert len(sent(m, "GET", read_url(111, 222))) == 1
    assert [(o.external_id, o.quantity) for o in result.confirmed] == [("222:MUG", 2)]
    assert [(f.external_id, f.kind) for f in result.failed] == [("111:TEE-S", FailureKind.PERMANENT)]


async def test_a_failed_batch_read_fails_each_listing_without_asking_again(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(read_url(111, 222), status=401, payload={"error": "invalid_token"})
        fields = {k: v for k, v in FIELDS.items() if k != "refresh_token"}
        result = await reconciler(session, fields).apply([change("222:MUG", 2), change("111:TEE-S", 1)])
        assert sum(len(v) for v in m.requests.values()) == 1
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]


async def test_null_readiness_states_are_read_from_the_single_listing_inventory(
    session: aiohttp.ClientSession,
) -> None:
    document = fixture("full")
    single = json.loads(json.dumps(inventory_of(document, 111)))
    for product in inventory_of(document, 111)["products"]:
        product["offerings"][0]["readiness_state_id"] = None  # the batch read may leave it null
    with aioresponses() as m:
        m.get(read_url(111), payload=document)
        m.get(f"{API}/listings/111/inventory", payload=single)
        m.put(f"{API}/listings/111/inventory", payload=single)
        await reconciler(session, mode="quantity").apply([change("111:TEE-S", 4)])
        [put] = sent(m, "PUT", f"{API}/listings/111/inventory")
    assert [p["offerings"][0]["readiness_state_id"] for p in put.kwargs["json"]["products"]] == [77, 77, 77]


async def test_quantities_that_do_not_vary_by_variation_are_a_problem(session: aiohttp.ClientSession) -> None:
    document = fixture("full")
    inventory_of(document, 111)["quantity_on_property"] = []  # one quantity for every variation
    with aioresponses() as m:
        m.get(read_url(111), payload=document, repeat=True)
        r = reconciler(session, mode="quantity")
        [seen] = await r.observe(variants("111:TEE-S"))
        result = await r.apply([change("111:TEE-S", 1)])
        assert sent(m, "PUT", f"{API}/listings/111/inventory") == []
    assert "do not vary" in (seen.problem or "")
    assert [f.kind for f in result.failed] == [FailureKind.PROBLEM]


def test_the_daily_budget_is_spread_over_the_day_and_listings_are_the_write_unit(
    session: aiohttp.ClientSession,
) -> None:
    caps = EtsyReconciler.capabilities
    assert caps.rate_budget.requests_per_second == pytest.approx(10_000 / 86_400)
    assert caps.rate_budget.burst == 10 and caps.rate_budget.remaining_header == "x-remaining-today"
    assert [(w.requests, w.seconds, w.aligned) for w in caps.rate_budget.windows] == [
        (10, 1, False),
        (10_000, 86_400, False),
    ]
    assert caps.unit_key("111:TEE-S") == caps.unit_key("111:TEE-M") == caps.unit_key("111") == "111"
    upgraded = reconciler(session, requests_per_second=100_000 / 86_400).capabilities
    assert upgraded.rate_budget.requests_per_second == pytest.approx(1.157, rel=1e-3)


async def test_concurrent_refusals_refresh_the_token_once(session: aiohttp.ClientSession) -> None:
    new = {"access_token": "77.new-access", "refresh_token": "77.new-refresh", "expires_in": 3600}
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=new)
        first, second = reconciler(session), reconciler(session)  # two workers of one store
        refused = FIELDS["access_token"]  # both were refused this token
        await asyncio.gather(first._auth.refresh(refused), second._auth.refresh(refused))
        assert len(sent(m, "POST", TOKEN_URL)) == 1  # the rotated refresh token is used once
    assert (
        first._auth.headers()["Authorization"]
        == second._auth.headers()["Authorization"]
        == "Bearer 77.new-access"
    )
