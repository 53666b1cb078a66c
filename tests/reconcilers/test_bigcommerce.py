"""BigCommerceReconciler at the wire (aioresponses): exact requests, every one checked against
BigCommerce's OpenAPI files, and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from multidict import CIMultiDict

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, StoreRules, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.bigcommerce import BigCommerceReconciler
from reconcilers.bigcommerce_items import UNTRACKED, parse_external_id
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer, announced_wait, build_pacer
from reconcilers.signatures import verify_standard_webhook
from reconcilers.transport import Response, RetryPolicy, TemporaryError, Transport
from tests.reconcilers.fakes.bigcommerce_fake import documented_specs

FIXTURES = Path(__file__).parent / "fixtures" / "bigcommerce"
TOKEN, CLIENT_SECRET = "bc-access-token-0123", "bc-client-secret-4567"
CREDENTIAL = Secret("bc", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
PREFIX = "/stores/abc123/v3"
BASE = "https://api.bigcommerce.com" + PREFIX
CATALOG = re.compile(r"^https://api\.bigcommerce\.com/stores/abc123/v3/catalog/products\?.*$")
VARIANT_ITEMS = re.compile(
    r"^https://api\.bigcommerce\.com/stores/abc123/v3/inventory/locations/1/items\?.*variant_id.*$"
)
PRODUCT_ITEMS = re.compile(
    r"^https://api\.bigcommerce\.com/stores/abc123/v3/inventory/locations/1/items\?.*product_id.*$"
)
ADJUST = BASE + "/inventory/adjustments/absolute"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, pacer: Any = None, **settings: Any
) -> BigCommerceReconciler:
    store = StoreConfig(
        "b1",
        "bigcommerce",
        "europe",
        "bc",
        rules=StoreRules(pod_quantity=40),
        settings={"store_hash": "abc123", **settings},
    )
    transport = Transport(
        session,
        platform="bigcommerce",
        store_id="b1",
        pacer=pacer or LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
    )
    return BigCommerceReconciler(ReconcilerContext(store, transport, credential))


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("b1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses) -> list[tuple[str, str, dict[str, str], Any]]:
    """Every request made (method, path under the API base, query, JSON body), each one checked
    against BigCommerce's OpenAPI files on the way (headers included: Accept, X-Auth-Token)."""
    specs = documented_specs()
    requests = []
    for (method, url), calls in mocked.requests.items():
        for call in calls:
            path, query, body = url.path.removeprefix(PREFIX), dict(url.query), call.kwargs.get("json")
            headers = dict(call.kwargs.get("headers") or {})
            assert headers["X-Auth-Token"] == TOKEN and headers["Accept"] == "application/json"
            if body is not None:
                headers["Content-Type"] = "application/json"
            spec = specs["catalog" if path.startswith("/catalog") else "inventory"]
            spec.check_request(method, path, query=query, headers=headers, body=body)
            requests.append((method, path, query, body))
    return sorted(requests, key=lambda r: (r[1], json.dumps(r[2], sort_keys=True)))


def change(
    external_id: str, available: bool, quantity: int | None, ref: dict[str, Any] | None = None
) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref)


def signed(
    body: bytes, secret: str = CLIENT_SECRET, stamp: int | None = None, msg: str = "msg_1"
) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{msg}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


# --- observe -------------------------------------------------------------------------------------


async def test_observe_reads_catalog_then_the_locations_rows_once_per_identity_kind(
    session: aiohttp.ClientSession,
) -> None:
    answers = fixture("full")
    with aioresponses() as m:
        m.get(CATALOG, payload=answers["catalog"])
        m.get(VARIANT_ITEMS, payload=answers["variant_items"])
        m.get(PRODUCT_ITEMS, payload=answers["product_items"])
        got = await reconciler(session).observe(
            variants("111:74", "111:75", "120", "130:80", "999:1", "bad", "111")
        )
        requests = sent(m)
    assert requests == [
        (
            "GET",
            "/catalog/products",
            {
                "id:in": "111,120,130,999",
                "include_fields": "inventory_tracking,availability",
                "limit": "250",
                "page": "1",
            },
            None,
        ),
        ("GET", "/inventory/locations/1/items", {"product_id:in": "120", "limit": "1000", "page": "1"}, None),
        (
            "GET",
            "/inventory/locations/1/items",
            {"variant_id:in": "74,75,80", "limit": "1000", "page": "1"},
            None,
        ),
    ]
    by_id = {o.external_id: o for o in got}
    assert set(by_id) == {"111:74", "111:75", "120", "130:80", "111"}  # 999 is not in the store
    # safety stock 10: the storefront sells 20 (available_to_sell), not the 30 on hand
    assert by_id["111:74"] == Observed("111:74", True, 20, {"safety_stock": 10})
    assert by_id["120"] == Observed("120", True, 7)
    assert (by_id["111:75"].available, by_id["111:75"].quantity) == (False, 4)  # is_in_stock off
    assert "is_in_stock is off" in by_id["111:75"].platform_ref["blocked"]  # type: ignore[index]
    assert (by_id["130:80"].available, by_id["130:80"].quantity) == (False, 9)  # availability disabled
    assert by_id["111"].problem is not None and "'111:<variant_id>'" in by_id["111"].problem


async def test_observe_minimal_answers_without_settings_or_meta(session: aiohttp.ClientSession) -> None:
    answers = fixture("minimal")
    with aioresponses() as m:
        m.get(CATALOG, payload=answers["catalog"])
        m.get(VARIANT_ITEMS, payload=answers["variant_items"])
        got = await reconciler(session).observe(variants("5:51"))
    assert got == [Observed("5:51", True, 2)]


async def test_observe_zero_and_product_tracking(session: aiohttp.ClientSession) -> None:
    answers = fixture("zero")
    with aioresponses() as m:
        m.get(CATALOG, payload=answers["catalog"])
        m.get(PRODUCT_ITEMS, payload=answers["product_items"])
        got = await reconciler(session).observe(variants("7", "7:70"))
    by_id = {o.external_id: o for o in got}
    assert by_id["7"] == Observed("7", False, 0)
    # a variant id of a product tracked by product: a problem naming the id to map instead
    assert by_id["7:70"].problem is not None and "map the external id '7'" in by_id["7:70"].problem


async def test_an_untracked_product_is_unlimited_and_never_written(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(CATALOG, payload=fixture("untracked")["catalog"])
        [seen] = await reconciler(session).observe(variants("9:91"))
        assert (seen.available, seen.quantity, seen.unlimited, seen.problem) == (True, None, True, None)
        assert seen.platform_ref == {CANNOT_ENFORCE: UNTRACKED}
        result = await reconciler(session).apply([change("9:91", False, 0, dict(seen.platform_ref))])
        assert len(m.requests) == 1  # the catalog read only: no inventory read, no write
    assert [f.kind for f in result.failed] == [FailureKind.PROBLEM]


async def test_counts_beyond_int4_or_not_numbers_are_per_item_problems(
    session: aiohttp.ClientSession,
) -> None:
    catalog = {"data": [{"id": 1, "inventory_tracking": "variant"}]}
    rows = {
        "data": [
            {"identity": {"variant_id": 11, "product_id": 1}, "available_to_sell": 3_000_000_000},
            {"identity": {"variant_id": 12, "product_id": 1}, "available_to_sell": "7"},
            {"identity": {"variant_id": 13, "product_id": 1}, "available_to_sell": 5},
            {"identity": {"variant_id": 14, "product_id": 2}, "available_to_sell": 5},  # another product's
        ]
    }
    with aioresponses() as m:
        m.get(CATALOG, payload=catalog)
        m.get(VARIANT_ITEMS, payload=rows)
        got = {
            o.external_id: o
            for o in await reconciler(session).observe(variants("1:11", "1:12", "1:13", "1:14"))
        }
    assert got["1:11"].problem is not None and "3000000000" in got["1:11"].problem
    assert got["1:12"].problem is not None
    assert got["1:13"] == Observed("1:13", True, 5)
    assert "1:14" not in got  # the row names product 2: not our item


async def test_observe_follows_total_pages(session: aiohttp.ClientSession) -> None:
    catalog = {"data": [{"id": 1, "inventory_tracking": "variant"}]}

    def page(number: int, variant: int) -> dict[str, Any]:
        row = {"identity": {"variant_id": variant, "product_id": 1}, "available_to_sell": variant}
        return {
            "data": [row],
            "meta": {
                "pagination": {
                    "total": 2,
                    "count": 1,
                    "per_page": 1,
                    "current_page": number,
                    "total_pages": 2,
                }
            },
        }

    with aioresponses() as m:
        m.get(CATALOG, payload=catalog)
        m.get(VARIANT_ITEMS, payload=page(1, 11))
        m.get(VARIANT_ITEMS, payload=page(2, 12))
        got = await reconciler(session).observe(variants("1:11", "1:12"))
        pages = [q["page"] for _, path, q, _ in sent(m) if path.startswith("/inventory")]
    assert sorted(pages) == ["1", "2"]
    assert {o.external_id: o.quantity for o in got} == {"1:11": 11, "1:12": 12}


async def test_observe_chunks_by_the_catalog_limit(session: aiohttp.ClientSession) -> None:
    wanted = variants(*(f"{p}:{p * 10}" for p in range(1, 302)))
    with aioresponses() as m:
        m.get(CATALOG, payload={"data": []}, repeat=True)
        assert await reconciler(session).observe(wanted) == []
        catalog_reads = [q for _, path, q, _ in sent(m) if path == "/catalog/products"]
    assert [len(q["id:in"].split(",")) for q in catalog_reads] == [250, 51]


@pytest.mark.parametrize("answer", [{"data": "rows"}, [], {"meta": {}}, None])
async def test_an_answer_that_is_not_a_data_list_is_temporary(
    session: aiohttp.ClientSession, answer: Any
) -> None:
    with aioresponses() as m:
        m.get(CATALOG, payload=answer, repeat=True)
        with pytest.raises(TemporaryError, match="did not answer a data list"):
            await reconciler(session).observe(variants("1:11"))


# --- apply ---------------------------------------------------------------------------------------


async def test_apply_is_one_absolute_adjustment_with_safety_stock_added(
    session: aiohttp.ClientSession,
) -> None:
    changes = [
        change("111:74", True, 5, {"safety_stock": 10}),  # sells 5: 15 on hand
        change("120", False, 0),
        change("130:80", True, None),  # status mode: in_stock_quantity (the store's POD quantity)
        change("bad-id", True, 1),
        change("111:75", True, 3, {"blocked": "is_in_stock is off at location 1"}),
        change("111:76", False, 0, {"blocked": "is_in_stock is off at location 1"}),  # 0 is fine
    ]
    with aioresponses() as m:
        m.put(ADJUST, payload={"transaction_id": "t-1"})
        result = await reconciler(session).apply(changes)
        requests = sent(m)
    assert requests == [
        (
            "PUT",
            "/inventory/adjustments/absolute",
            {},
            {
                "reason": "stocksync: absolute availability from upstream inventory",
                "items": [
                    {"location_id": 1, "variant_id": 74, "quantity": 15},
                    {"location_id": 1, "product_id": 120, "quantity": 0},
                    {"location_id": 1, "variant_id": 80, "quantity": 40},
                    {"location_id": 1, "variant_id": 76, "quantity": 0},
                ],
            },
        )
    ]
    confirmed = {o.external_id: (o.available, o.quantity) for o in result.confirmed}
    assert confirmed == {"111:74": (True, 5), "120": (False, 0), "130:80": (True, 40), "111:76": (False, 0)}
    failed = {f.external_id: f.kind for f in result.failed}
    assert failed == {"bad-id": FailureKind.PERMANENT, "111:75": FailureKind.PROBLEM}


async def test_a_refusal_naming_an_item_fails_it_and_resends_the_rest(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.put(ADJUST, status=422, payload=fixture("error"), content_type="application/problem+json")
        m.put(ADJUST, payload={"transaction_id": "t-2"})
        result = await reconciler(session, location_id=3).apply(
            [change("111:74", True, 2), change("111:75", True, 2), change("120", True, 2)]
        )
        bodies = [body["items"] for _, _, _, body in sent(m)]
    assert sorted(bodies, key=len) == [
        [
            {"location_id": 3, "variant_id": 74, "quantity": 2},
            {"location_id": 3, "product_id": 120, "quantity": 2},
        ],
        [
            {"location_id": 3, "variant_id": 74, "quantity": 2},
            {"location_id": 3, "variant_id": 75, "quantity": 2},
            {"location_id": 3, "product_id": 120, "quantity": 2},
        ],
    ]
    assert {o.external_id for o in result.confirmed} == {"111:74", "120"}
    [refused] = result.failed
    assert refused.external_id == "111:75" and refused.kind is FailureKind.PERMANENT
    assert "tracked by product" in refused.reason  # the problem's title reaches support


async def test_a_refusal_naming_no_item_is_halved(session: aiohttp.ClientSession) -> None:
    vague = {"status": 422, "title": "Payload contains invalid fields", "type": "t", "errors": {}}
    with aioresponses() as m:
        m.put(ADJUST, status=422, payload=vague, content_type="application/problem+json")  # all four
        m.put(ADJUST, payload={"transaction_id": "a"})  # the first half passes
        m.put(ADJUST, status=422, payload=vague, content_type="application/problem+json")  # second half
        m.put(ADJUST, payload={"transaction_id": "b"})  # its first item
        m.put(ADJUST, status=422, payload=vague, content_type="application/problem+json")  # the culprit
        result = await reconciler(session).apply([change(f"1:{v}", True, 1) for v in (11, 12, 13, 14)])
    assert sorted(o.external_id for o in result.confirmed) == ["1:11", "1:12", "1:13"]
    assert [(f.external_id, f.kind) for f in result.failed] == [("1:14", FailureKind.PERMANENT)]


async def test_a_refused_credential_fails_every_item_as_auth(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.put(ADJUST, status=401, payload={"status": 401, "title": "Unauthorized", "type": "t", "errors": {}})
        result = await reconciler(session).apply([change("1:11", True, 1), change("1:12", False, 0)])
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]
    assert TOKEN not in result.failed[0].reason


async def test_a_429_waits_for_the_announced_reset_not_a_retry_after(session: aiohttp.ClientSession) -> None:
    pacer = LeakyBucketPacer(
        1000, 1000, reset_headers=BigCommerceReconciler.capabilities.rate_budget.reset_headers
    )
    throttled = {
        "X-Rate-Limit-Time-Reset-Ms": "150",
        "X-Rate-Limit-Requests-Left": "0",
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Window-Ms": "30000",
    }
    with aioresponses() as m:
        m.put(ADJUST, status=429, headers=throttled, payload={"status": 429, "title": "Too many requests"})
        m.put(ADJUST, payload={"transaction_id": "t"})
        started = time.monotonic()
        result = await reconciler(session, pacer=pacer).apply([change("1:11", True, 1)])
        waited = time.monotonic() - started
    assert [o.external_id for o in result.confirmed] == ["1:11"]
    assert waited >= 0.14  # the 150 ms the platform announced (a back-off would be ~0.01 s here)


def test_the_longer_of_the_announced_waits_wins_and_odd_values_are_ignored() -> None:
    budget = BigCommerceReconciler.capabilities.rate_budget
    assert (
        announced_wait(
            CIMultiDict({"X-Rate-Limit-Time-Reset-Ms": "15000", "X-Retry-After": "20"}), budget.reset_headers
        )
        == 20.0
    )
    assert announced_wait(CIMultiDict({"x-rate-limit-time-reset-ms": "2500"}), budget.reset_headers) == 2.5
    for odd in ("-5", "nan", "1e999999", "x" * 30, ""):
        assert announced_wait(CIMultiDict({"X-Rate-Limit-Time-Reset-Ms": odd}), budget.reset_headers) in (
            None,
            86_400.0,
        )
    assert announced_wait(CIMultiDict({"Retry-After": "3"}), budget.reset_headers) is None


async def test_an_empty_budget_pauses_the_store_until_the_reset() -> None:
    pacer = build_pacer(BigCommerceReconciler.capabilities.rate_budget)
    headers = CIMultiDict({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "120"})
    pacer.feed(Response(200, headers, {}, BASE))
    started = time.monotonic()
    await pacer.acquire()
    assert time.monotonic() - started >= 0.11


# --- webhooks ------------------------------------------------------------------------------------


def stock_changed(location: Any = 1, producer: str = "stores/abc123", **data: Any) -> bytes:
    payload = {
        "producer": producer,
        "hash": "996ea203c939d05ca667a515ef2f029976d6df80",
        "created_at": 1682624640,
        "store_id": "1234567890",
        "scope": "store/channel/*/inventory/product/stock_changed",
        "data": {"variant_id": 127, "product_id": 113, "location_id": location, **data},
    }
    return json.dumps(payload).encode()


def test_standard_webhook_signatures(session: aiohttp.ClientSession) -> None:
    bc = reconciler(session)
    body = stock_changed()
    assert bc.verify_webhook(signed(body), body)
    assert not bc.verify_webhook(signed(body), body + b" ")
    assert not bc.verify_webhook(signed(body, "another-apps-secret"), body)
    assert not bc.verify_webhook(signed(body, stamp=int(time.time()) - 301), body)  # a stale replay
    assert not bc.verify_webhook({}, body)
    several = signed(body)
    several["webhook-signature"] = "v1,bm90IGl0 v2,xyz " + several["webhook-signature"]  # one match suffices
    assert bc.verify_webhook(several, body)
    no_secret = Secret("bc", json.dumps({"access_token": TOKEN}))
    assert not reconciler(session, credential=no_secret).verify_webhook(signed(body), body)
    assert not verify_standard_webhook(
        CLIENT_SECRET.encode(), {**signed(body), "webhook-timestamp": "12ab"}, body, time.time()
    )


def test_stock_changed_names_the_item_for_a_reread(session: aiohttp.ClientSession) -> None:
    bc = reconciler(session)
    notified = bc.parse_webhook(signed(stock_changed(), msg="msg_2Lx"), stock_changed())
    assert notified.reread
    assert [(o.external_id, o.available) for o in notified] == [("113:127", None), ("113", None)]
    assert notified.delivery_id == "msg_2Lx"
    assert notified.occurred_at is not None and notified.occurred_at.timestamp() == 1682624640
    assert list(bc.parse_webhook({}, stock_changed(location=2))) == []  # another location
    assert list(bc.parse_webhook({}, stock_changed(producer="stores/other"))) == []  # another store


def test_legacy_inventory_scopes_are_reread_whatever_their_value(session: aiohttp.ClientSession) -> None:
    sku = {
        "scope": "store/sku/inventory/updated",
        "producer": "stores/abc123",
        "created_at": 1561482670,
        "data": {
            "type": "sku",
            "id": 461,
            "inventory": {"product_id": 167, "method": "absolute", "value": 2, "variant_id": 509},
        },
    }
    notified = reconciler(session).parse_webhook({}, json.dumps(sku).encode())
    assert notified.reread and [o.external_id for o in notified] == ["167:509", "167"]
    product = {
        **sku,
        "scope": "store/product/inventory/order/updated",
        "data": {
            "type": "product",
            "id": 167,
            "inventory": {"product_id": 167, "method": "relative", "value": -3},
        },
    }
    assert [o.external_id for o in reconciler(session).parse_webhook({}, json.dumps(product).encode())] == [
        "167"
    ]
    other = {**sku, "scope": "store/order/created"}
    assert list(reconciler(session).parse_webhook({}, json.dumps(other).encode())) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1]", "body"),
        (b"{not json", "body"),
        (json.dumps({"data": {}}).encode(), "scope"),
        (stock_changed(location="2"), "data.location_id"),
        (stock_changed(product_id="113"), "data.product_id"),
        (stock_changed(variant_id=True), "data.variant_id"),
        (json.dumps({"scope": "store/sku/inventory/updated", "data": []}).encode(), "data"),
        (
            json.dumps(
                {"scope": "store/sku/inventory/updated", "created_at": "yesterday", "data": {"product_id": 1}}
            ).encode(),
            "created_at",
        ),
    ],
)
def test_bad_webhook_input_names_the_field(session: aiohttp.ClientSession, body: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        reconciler(session).parse_webhook({}, body)
    assert caught.value.field == field


# --- settings and ids ----------------------------------------------------------------------------


def test_settings_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="store_hash"):
        reconciler(session, store_hash=None)
    with pytest.raises(ConfigError, match="https"):
        reconciler(session, base_url="http://api.example.com/stores/abc123/v3")
    with pytest.raises(ConfigError, match="page_size"):
        reconciler(session, page_size=10)
    refined = reconciler(session, requests_per_second=15, batch_limit=500).capabilities
    assert (refined.rate_budget.requests_per_second, refined.max_write_batch) == (15, 500)


def test_external_ids() -> None:
    assert parse_external_id("12:34") is not None and parse_external_id("12") is not None
    for bad in ("", "0", "12:", ":34", "12:34:5", "-1", "1.5", "12:0", "١٢"):
        assert parse_external_id(bad) is None, bad
