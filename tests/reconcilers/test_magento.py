"""MagentoReconciler at the wire (aioresponses): exact requests, every documented answer shape, and every
request checked against Adobe's admin schema (converted by tests/reconcilers/magento_spec.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, Observed, StoreConfig, StoreRules, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.capabilities import StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.magento import MagentoReconciler
from reconcilers.magento_items import criteria, entry_for, links_of
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import AuthError, Transport
from tests.reconcilers.magento_spec import SPEC_FILE, magento_spec
from tests.reconcilers.wire import quick_transport
from tests.spec_validation import SPECS

FIXTURES = Path(__file__).parent / "fixtures" / "magento"
TOKEN = "mg-integration-token-0123456789"
CREDENTIAL = Secret("magento-eu", json.dumps({"access_token": TOKEN}))
BASE = "https://shop.example.com/rest/all"
SOURCE = "warehouse-eu"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
PRODUCT_FIELDS = "items[sku,type_id,extension_attributes[stock_item]],search_criteria,total_count"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def products_url(skus: str, page: int = 1, size: int = 100) -> URL:
    query = criteria(skus.split(","), None, size, page) | {"fields": PRODUCT_FIELDS}
    return URL(f"{BASE}/V1/products").with_query(query)


def items_url(skus: str, page: int = 1, size: int = 100) -> URL:
    return URL(f"{BASE}/V1/inventory/source-items").with_query(criteria(skus.split(","), SOURCE, size, page))


SAVE_URL = f"{BASE}/V1/inventory/source-items"


def stock_item_url(sku: str) -> str:
    return f"{BASE}/V1/stockItems/{quote(sku, safe='')}"


def listed(sku: str, **stock: Any) -> dict[str, Any]:
    """A product answer that carries its stock item (a store where the list includes it)."""
    item = fixture("zero")["products"]["items"][0]["extension_attributes"]["stock_item"] | stock
    return {"sku": sku, "extension_attributes": {"stock_item": item}}


LINKS_URL = URL(f"{BASE}/V1/inventory/stock-source-links").with_query(links_of(SOURCE))


def linked(m: aioresponses, stocks: int = 1) -> None:
    """The stock–source links of our source (read once per reconciler, before any item)."""
    links = [{"stock_id": i + 1, "source_code": SOURCE, "priority": 1} for i in range(stocks)]
    m.get(
        LINKS_URL,
        payload={"items": links[:1], "search_criteria": {"filter_groups": []}, "total_count": stocks},
    )


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses, and afterwards every request the reconciler sent checked against the spec."""
    with aioresponses() as m:
        yield m
    if not (SPECS / SPEC_FILE).is_file():
        return  # a user's clone without ../shared: the exact-request assertions still ran
    spec = magento_spec()
    for (method, url), calls in m.requests.items():
        for call in calls:
            path = url.raw_path.removeprefix("/rest/all")  # a SKU's "/" stays encoded in its segment
            spec.check_request(method, path, query=dict(url.query), body=call.kwargs.get("json"))


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, pod_quantity: int = 100, **settings: Any
) -> MagentoReconciler:
    store = StoreConfig(
        "m1",
        "magento",
        "europe",
        "magento-eu",
        rules=StoreRules(pod_quantity=pod_quantity),
        settings={"base_url": BASE, "source_code": SOURCE, **settings},
    )
    transport = quick_transport(session, "magento", "m1")
    return MagentoReconciler(ReconcilerContext(store, transport, credential))


def variants(*skus: str) -> list[SyncedVariant]:
    return [SyncedVariant("m1", sku, f"up-{sku}") for sku in skus]


def sent(m: aioresponses, method: str, url: URL | str) -> list[Any]:
    """The calls to `url` (aioresponses records URLs with their query sorted)."""
    url = URL(url)
    return m.requests.get((method, url.with_query(sorted(url.query.items()))), [])


async def test_observe_reads_products_then_source_items_and_maps_them(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    skus = "MB-01,MB-02,MB-03,MB-04,MB-05,MB-404"
    found = "MB-01,MB-02,MB-03,MB-04,MB-05"
    mocked.get(products_url(skus), payload=fixture("full")["products"])
    mocked.get(items_url(found), payload=fixture("full")["source_items"])
    got = await reconciler(session).observe(variants(*skus.split(",")))
    by_id = {o.external_id: o for o in got}
    assert set(by_id) == set(found.split(","))  # MB-404 has no product: not in the store
    assert by_id["MB-01"] == Observed("MB-01", True, 12)
    assert by_id["MB-02"] == Observed("MB-02", False, 0)
    assert by_id["MB-03"] == Observed("MB-03", True, 3)  # "mb-03" (same SKU to Magento), 2.5 sells a 3rd
    assert by_id["MB-04"] == Observed("MB-04", False, 7)  # status 0 wins over the count
    configurable = by_id["MB-05"]
    assert (
        configurable.problem is not None and "not assigned to source 'warehouse-eu'" in configurable.problem
    )
    assert "configurable" in configurable.problem
    assert (configurable.platform_ref or {}).get(CANNOT_ENFORCE)
    (call,) = sent(mocked, "GET", products_url(skus))
    assert call.kwargs["headers"] == HEADERS and call.kwargs["json"] is None
    assert len(sent(mocked, "GET", items_url(found))) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimal", [Observed("MB-01", True, 3)]),
        ("zero", [Observed("MB-01", False, 0), Observed("MB-02", False, 0)]),  # status 1 at 0 sells nothing
    ],
)
async def test_observe_shapes(
    session: aiohttp.ClientSession, mocked: aioresponses, name: str, expected: list[Observed]
) -> None:
    linked(mocked)
    skus = ",".join(o.external_id for o in expected)
    mocked.get(products_url(skus), payload=fixture(name)["products"])
    for sku, stock_item in fixture(name).get("stock_items", {}).items():
        mocked.get(stock_item_url(sku), payload=stock_item)  # the list left it out: one read per SKU
    mocked.get(items_url(skus), payload=fixture(name)["source_items"])
    assert await reconciler(session).observe(variants(*skus.split(","))) == expected
    assert len(sent(mocked, "GET", stock_item_url("MB-01"))) == (1 if name == "minimal" else 0)


async def test_the_stock_item_is_read_per_sku_when_the_list_leaves_it_out(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    page = {"search_criteria": {"filter_groups": []}, "total_count": 3}
    products = [{"sku": "A/1"}, {"sku": "GONE"}, listed("C")]
    mocked.get(products_url("A/1,GONE,C"), payload=page | {"items": products})
    mocked.get(
        stock_item_url("A/1"), payload=listed("A/1", manage_stock=False)["extension_attributes"]["stock_item"]
    )
    mocked.get(
        stock_item_url("GONE"),
        status=404,
        payload={"message": "The product that was requested doesn't exist."},
    )
    items = [{"sku": s, "source_code": SOURCE, "quantity": 4, "status": 1} for s in ("A/1", "GONE", "C")]
    mocked.get(items_url("A/1,GONE,C"), payload=page | {"items": items})
    unmanaged, gone, listed_c = await reconciler(session).observe(variants("A/1", "GONE", "C"))
    assert unmanaged.problem is not None and "Manage Stock is No" in unmanaged.problem
    assert gone == Observed("GONE", True, 4)  # deleted meanwhile: its source item alone tells
    assert listed_c == Observed("C", True, 4)
    (call,) = sent(mocked, "GET", stock_item_url("A/1"))  # the slash travels encoded
    assert call.kwargs["headers"] == HEADERS
    assert sent(mocked, "GET", stock_item_url("C")) == []


async def test_manage_stock_no_and_backorders_are_problems_never_written(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    mocked.get(products_url("MB-01,MB-02"), payload=fixture("untracked")["products"])
    mocked.get(items_url("MB-01,MB-02"), payload=fixture("untracked")["source_items"])
    unlimited, backorders = await reconciler(session).observe(variants("MB-01", "MB-02"))
    assert unlimited.problem is not None and "Manage Stock is No" in unlimited.problem
    assert backorders.problem is not None and "backorders" in backorders.problem
    assert unlimited.quantity is None and unlimited.as_availability() is None
    changes = [
        Change(o.external_id, Availability(False, 0), platform_ref=o.platform_ref)
        for o in (unlimited, backorders)
    ]
    result = await reconciler(session).apply(changes)
    assert [f.kind.value for f in result.failed] == ["problem", "problem"]
    assert sent(mocked, "POST", SAVE_URL) == []


async def test_observe_reads_in_chunks_of_the_page_size(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    page: dict[str, Any] = {"search_criteria": {"filter_groups": []}}
    products = [listed(f"S{i}") for i in range(3)]
    items = [{"sku": f"S{i}", "source_code": SOURCE, "quantity": i, "status": 1} for i in range(3)]
    for url, body in [
        (products_url("S0,S1", 1, 2), page | {"items": products[:2], "total_count": 2}),
        (items_url("S0,S1", 1, 2), page | {"items": items[:2], "total_count": 2}),
        (products_url("S2", 1, 2), page | {"items": products[2:], "total_count": 1}),
        (items_url("S2", 1, 2), page | {"items": items[2:], "total_count": 1}),
    ]:
        mocked.get(url, payload=body)
    got = await reconciler(session, page_size=2).observe(variants("S0", "S1", "S2"))
    assert got == [Observed("S0", False, 0), Observed("S1", True, 1), Observed("S2", True, 2)]
    assert len(mocked.requests) == 5  # two chunks of one page each, and the links once


async def test_a_short_page_is_followed_until_total_count(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    # the store caps pages below what was asked (input limits' maximum): total_count tells what is left
    page = {"search_criteria": {"filter_groups": []}, "total_count": 3}
    products = [listed(f"S{i}") for i in range(3)]
    items = [{"sku": f"S{i}", "source_code": SOURCE, "quantity": 1, "status": 1} for i in range(3)]
    mocked.get(products_url("S0,S1,S2", 1, 2), payload=page | {"items": products[:2]})
    mocked.get(products_url("S0,S1,S2", 2, 2), payload=page | {"items": products[2:]})
    mocked.get(items_url("S0,S1,S2", 1, 2), payload=page | {"items": items[:2]})
    mocked.get(items_url("S0,S1,S2", 2, 2), payload=page | {"items": items[2:]})
    with pytest.MonkeyPatch.context() as patch:  # a chunk of 3 SKUs asked in pages of 2
        patch.setattr("reconcilers.magento.chunked", lambda items, size: iter([items]))
        got = await reconciler(session, page_size=2).observe(variants("S0", "S1", "S2"))
    assert got == [Observed(f"S{i}", True, 1) for i in range(3)]
    assert len(mocked.requests) == 5  # the links, two pages of each search, no page past the last


async def test_unreadable_skus_and_values_are_per_item(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    page: dict[str, Any] = {"search_criteria": {"filter_groups": []}}
    products = [listed(s) for s in ("HUGE", "ODD", "OK")]
    items = [
        {"sku": "HUGE", "source_code": SOURCE, "quantity": 3_000_000_000, "status": 1},
        {"sku": "ODD", "source_code": SOURCE, "quantity": 4, "status": 7},
        {"sku": "OK", "source_code": SOURCE, "quantity": -2, "status": 1},
    ]
    mocked.get(products_url("HUGE,ODD,OK"), payload=page | {"items": products, "total_count": 3})
    mocked.get(items_url("HUGE,ODD,OK"), payload=page | {"items": items, "total_count": 3})
    got = await reconciler(session).observe(variants("HUGE", "ODD", "OK", "A,B", " PADDED", ""))
    by_id = {o.external_id: o for o in got}
    assert by_id["A,B"].problem is not None and "comma" in by_id["A,B"].problem
    assert by_id["HUGE"].problem is not None and "3000000000" in by_id["HUGE"].problem
    assert by_id["ODD"].problem is not None and "status" in by_id["ODD"].problem
    assert by_id["OK"] == Observed("OK", False, -2)  # an oversold source is kept as shown
    assert set(by_id) == {"A,B", "HUGE", "ODD", "OK"}  # a padded or empty SKU: no product can have it


async def test_apply_posts_absolute_source_items_in_both_modes(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    changes = [
        Change("MB-01", Availability(False, None), expected=Availability(True, 5)),  # status mode, out
        Change("MB-02", Availability(True, None), expected=Availability(False, 7)),  # keeps its count
        Change("MB-03", Availability(True, None), expected=Availability(False, 0)),  # no count: ours
        Change("MB-04", Availability(True, 12)),  # quantity mode
        Change("MB-05", Availability(False, 0)),
    ]
    mocked.post(SAVE_URL, payload=[])
    result = await reconciler(session, pod_quantity=40).apply(changes)
    (call,) = sent(mocked, "POST", SAVE_URL)
    assert call.kwargs["headers"] == HEADERS
    assert call.kwargs["json"] == {
        "sourceItems": [
            {"sku": "MB-01", "source_code": SOURCE, "quantity": 0, "status": 0},
            {"sku": "MB-02", "source_code": SOURCE, "quantity": 7, "status": 1},
            {"sku": "MB-03", "source_code": SOURCE, "quantity": 40, "status": 1},
            {"sku": "MB-04", "source_code": SOURCE, "quantity": 12, "status": 1},
            {"sku": "MB-05", "source_code": SOURCE, "quantity": 0, "status": 0},
        ]
    }
    assert result.failed == ()
    assert result.confirmed == (
        Observed("MB-01", False, 0),
        Observed("MB-02", True, 7),
        Observed("MB-03", True, 40),
        Observed("MB-04", True, 12),
        Observed("MB-05", False, 0),
    )


async def test_a_source_linked_to_no_stock_makes_every_item_a_problem(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked, stocks=0)
    mocked.get(products_url("MB-01,MB-02"), payload=fixture("zero")["products"])
    got = await reconciler(session).observe(variants("MB-01", "MB-02"))
    assert [o.external_id for o in got] == ["MB-01", "MB-02"]
    assert all(o.problem and "linked to no stock" in o.problem for o in got)
    assert sent(mocked, "GET", items_url("MB-01,MB-02")) == []  # no source item is read: none counts


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_a_store_that_will_not_tell_the_links_is_read_as_usual(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int
) -> None:
    mocked.get(LINKS_URL, status=status, payload=fixture("unauthorized"))
    mocked.get(products_url("MB-01"), payload=fixture("minimal")["products"])
    mocked.get(stock_item_url("MB-01"), payload=fixture("minimal")["stock_items"]["MB-01"])
    mocked.get(items_url("MB-01"), payload=fixture("minimal")["source_items"])
    assert await reconciler(session).observe(variants("MB-01")) == [Observed("MB-01", True, 3)]


async def test_the_out_of_stock_threshold_is_read_and_never_written_into(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    linked(mocked)
    products = fixture("zero")["products"]
    for product in products["items"]:
        product["extension_attributes"]["stock_item"]["min_qty"] = 2
    mocked.get(products_url("MB-01,MB-02"), payload=products)
    page = {"search_criteria": {"filter_groups": []}, "total_count": 2}
    items = [
        {"sku": "MB-01", "source_code": SOURCE, "quantity": 2, "status": 1},
        {"sku": "MB-02", "source_code": SOURCE, "quantity": 3, "status": 1},
    ]
    mocked.get(items_url("MB-01,MB-02"), payload=page | {"items": items})
    at_two, above = await reconciler(session).observe(variants("MB-01", "MB-02"))
    assert at_two == Observed("MB-01", False, 2, {"out_of_stock_at": 2})  # salable 2 - 2 = 0
    assert above == Observed("MB-02", True, 3, {"out_of_stock_at": 2})
    mocked.post(SAVE_URL, payload=[])
    result = await reconciler(session).apply(
        [
            Change("MB-01", Availability(True, 2), at_two.as_availability(), at_two.platform_ref),
            Change("MB-02", Availability(True, None), above.as_availability(), above.platform_ref),
        ]
    )
    assert [(f.external_id, f.kind.value) for f in result.failed] == [("MB-01", "problem")]
    assert "min_qty 2" in result.failed[0].reason
    assert result.confirmed == (Observed("MB-02", True, 3, {"out_of_stock_at": 2}),)
    (call,) = sent(mocked, "POST", SAVE_URL)
    assert call.kwargs["json"]["sourceItems"] == [
        {"sku": "MB-02", "source_code": SOURCE, "quantity": 3, "status": 1}
    ]


async def test_in_stock_quantity_setting_and_batch_limit(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    changes = [Change(f"S{i}", Availability(True, None)) for i in range(21)]
    with pytest.raises(ValueError, match="max_write_batch"):
        await reconciler(session).apply(changes)  # 20 by default: the engine packs batches
    mocked.post(SAVE_URL, payload=[])
    result = await reconciler(session, batch_limit=21, in_stock_quantity=9).apply(changes)
    (call,) = sent(mocked, "POST", SAVE_URL)
    assert len(call.kwargs["json"]["sourceItems"]) == 21
    assert {e["quantity"] for e in call.kwargs["json"]["sourceItems"]} == {9}
    assert len(result.confirmed) == 21


async def test_a_refused_batch_is_resent_item_by_item(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    changes = [Change(f"S{i}", Availability(False, 0)) for i in range(3)]
    mocked.post(SAVE_URL, status=400, payload=fixture("error"))  # the batch: nothing saved
    mocked.post(SAVE_URL, payload=[])  # S0
    mocked.post(SAVE_URL, status=400, payload=fixture("error"))  # S1
    mocked.post(SAVE_URL, status=503)  # S2, then its retries
    mocked.post(SAVE_URL, status=503)
    mocked.post(SAVE_URL, status=503)
    result = await reconciler(session).apply(changes)
    bodies = [[e["sku"] for e in c.kwargs["json"]["sourceItems"]] for c in sent(mocked, "POST", SAVE_URL)]
    assert bodies == [["S0", "S1", "S2"], ["S0"], ["S1"], ["S2"], ["S2"], ["S2"]]
    assert result.confirmed == (Observed("S0", False, 0),)
    assert [(f.external_id, f.kind.value) for f in result.failed] == [
        ("S1", "permanent"),
        ("S2", "temporary"),
    ]
    assert "400" in result.failed[0].reason
    assert (
        'Validation Failed ("sku" can not contain leading or trailing whitespace.)' in result.failed[0].reason
    )


async def test_isolation_stops_at_its_request_budget(
    session: aiohttp.ClientSession, mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconcilers.magento.ISOLATE_REQUESTS", 1)
    changes = [Change(f"S{i}", Availability(False, 0)) for i in range(3)]
    mocked.post(SAVE_URL, status=400, payload=fixture("error"))
    mocked.post(SAVE_URL, status=400, payload=fixture("error"))
    result = await reconciler(session).apply(changes)
    assert len(sent(mocked, "POST", SAVE_URL)) == 2
    assert [(f.external_id, f.kind.value) for f in result.failed] == [
        ("S0", "permanent"),
        ("S1", "temporary"),
        ("S2", "temporary"),
    ]


async def test_whole_request_failures(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    changes = [Change("A", Availability(False, 0)), Change(" B", Availability(False, 0))]
    mocked.post(SAVE_URL, status=401, payload=fixture("unauthorized"))
    unauthorized = await reconciler(session).apply(changes)
    # the credential fails the whole unit; the padded SKU was not even sent (Magento's SKU validator)
    assert [(f.external_id, f.kind.value) for f in unauthorized.failed] == [("A", "auth"), (" B", "auth")]
    assert "401" in unauthorized.failed[0].reason and TOKEN not in unauthorized.failed[0].reason
    assert "access Magento_InventoryApi::source" in unauthorized.failed[0].reason  # the resource to grant
    (call,) = sent(mocked, "POST", SAVE_URL)
    assert [e["sku"] for e in call.kwargs["json"]["sourceItems"]] == ["A"]
    mocked.post(SAVE_URL, payload=[])
    padded = await reconciler(session).apply(changes)
    assert [(f.external_id, f.kind.value) for f in padded.failed] == [(" B", "permanent")]
    mocked.get(products_url("A"), status=401, payload=fixture("unauthorized"))
    with pytest.raises(AuthError, match="401"):
        await reconciler(session).observe(variants("A"))


async def test_a_429_from_a_proxy_is_waited_out(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    mocked.post(SAVE_URL, status=429, headers={"Retry-After": "0"}, body="Too Many Requests")
    mocked.post(SAVE_URL, payload=[])
    result = await reconciler(session).apply([Change("A", Availability(True, 2))])
    assert result.confirmed == (Observed("A", True, 2),)
    assert len(sent(mocked, "POST", SAVE_URL)) == 2


def test_entries_always_carry_quantity_and_status() -> None:
    assert entry_for(Change("A", Availability(True, 0)), "s", 5) == {
        "sku": "A",
        "source_code": "s",
        "quantity": 0,
        "status": 0,
    }
    negative = entry_for(Change("A", Availability(True, None), expected=Availability(False, -3)), "s", 5)
    assert (negative["quantity"], negative["status"]) == (5, 1)


def test_webhooks_are_refused_clearly() -> None:
    r = offline()
    body = b'{"sku": "A", "qty": 1}'
    assert r.verify_webhook({"x-adobe-commerce-webhook-signature": "abc"}, body) is False
    with pytest.raises(InputError) as caught:
        r.parse_webhook({}, body)
    assert caught.value.field == "body" and "full passes" in str(caught.value)
    assert MagentoReconciler.capabilities.webhook_scheme is None


def test_settings_credentials_and_capabilities() -> None:
    assert offline(base_url="https://shop.example.com/rest/default/V1")._api == (
        "https://shop.example.com/rest/default/V1"
    )
    assert offline(source_code=None)._source == "default"
    with pytest.raises(ConfigError, match="base_url"):
        offline(base_url="http://shop.example.com/rest/all")  # the token must not travel in clear
    with pytest.raises(ConfigError, match="source_code"):
        offline(source_code="a/b")
    with pytest.raises(ConfigError, match="batch_limit"):
        offline(batch_limit=0)
    with pytest.raises(ConfigError, match="page_size"):
        offline(page_size="many")
    with pytest.raises(CredentialError, match="access_token") as caught:
        offline(Secret("c", json.dumps({"token": TOKEN})))
    assert TOKEN not in str(caught.value)
    assert offline(Secret("c", TOKEN))._headers == HEADERS  # the token alone is accepted
    caps = MagentoReconciler.capabilities
    assert (caps.max_write_batch, caps.max_read_batch, caps.stock_model) == (20, 100, StockModel.BOTH)
    assert not caps.compare_and_set
    refined = offline(batch_limit=500, page_size=300, requests_per_second=10).capabilities
    assert (refined.max_write_batch, refined.max_read_batch) == (500, 300)
    assert refined.rate_budget.requests_per_second == 10


def offline(credential: Secret = CREDENTIAL, **settings: Any) -> MagentoReconciler:
    """A reconciler whose transport is never used (webhooks, settings)."""
    base = {"base_url": BASE, "source_code": SOURCE}
    store = StoreConfig("m1", "magento", "europe", "magento-eu", settings={**base, **settings})
    transport = Transport(
        None,  # type: ignore[arg-type]  # never used by these tests
        platform="magento",
        store_id="m1",
        pacer=LeakyBucketPacer(1000, 1000),
    )
    return MagentoReconciler(ReconcilerContext(store, transport, credential))
