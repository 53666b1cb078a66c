"""The Magento fake behaves like the docs (auth, search criteria, paging, input limits, whole-request
validation, throttle), and MagentoReconciler works against it through the shared transport; with the
admin schema on, the contract-style flows produce no violation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, Observed, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.magento import MagentoReconciler
from reconcilers.transport import AuthError
from tests.reconcilers.fakes.magento_fake import FakeProduct, MagentoFake
from tests.reconcilers.magento_spec import magento_spec
from tests.reconcilers.wire import quick_transport

TOKEN = "fake-integration-token"
CREDENTIAL = Secret("mg", json.dumps({"access_token": TOKEN}))
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def fake() -> AsyncIterator[MagentoFake]:
    server = MagentoFake(TOKEN, sources=("default", "eu"))
    await server.start()
    yield server
    await server.stop()


def build(session: aiohttp.ClientSession, server: MagentoFake, **settings: Any) -> MagentoReconciler:
    store = StoreConfig(
        "m1",
        "magento",
        "europe",
        "mg",
        settings={"base_url": server.base_url, "source_code": "eu", **settings},
    )
    transport = quick_transport(session, "magento", "m1")
    return MagentoReconciler(ReconcilerContext(store, transport, CREDENTIAL))


def seed(server: MagentoFake, count: int, source: str = "eu") -> None:
    for i in range(count):
        server.add(FakeProduct(f"S{i}"), **{source: (i, 1 if i else 0)})


def search(skus: str, size: int | None = None, page: int = 1, source: str | None = None) -> dict[str, str]:
    query = {
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": skus,
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
        "searchCriteria[currentPage]": str(page),
    }
    if source is not None:
        query["searchCriteria[filter_groups][1][filters][0][field]"] = "source_code"
        query["searchCriteria[filter_groups][1][filters][0][value]"] = source
    if size is not None:
        query["searchCriteria[pageSize]"] = str(size)
    return query


async def get(session: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with session.get(
        url, params=params.pop("query", None), headers=params.pop("headers", AUTH)
    ) as answer:
        return answer.status, await answer.json()


async def post(session: aiohttp.ClientSession, url: str, body: Any, headers: Any = AUTH) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_bearer_token_is_required(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    status, body = await get(session, f"{fake.base_url}/V1/inventory/source-items", headers={})
    assert status == 401 and body["message"] == "The consumer isn't authorized to access %resources."
    assert body["parameters"] == {"resources": "Magento_InventoryApi::source"}
    status, _ = await get(session, f"{fake.base_url}/V1/products", headers={"Authorization": "Bearer other"})
    assert status == 401 and fake.stats.unauthorized == 2


async def test_search_criteria_filter_groups_and_pages(
    session: aiohttp.ClientSession, fake: MagentoFake
) -> None:
    seed(fake, 5)
    seed(fake, 2, source="default")  # S0, S1 also at the default source
    url = f"{fake.base_url}/V1/inventory/source-items"
    status, body = await get(session, url, query=search("S0,S1,S4", size=2, source="eu"))
    assert status == 200 and body["total_count"] == 3  # groups ANDed: only the eu items
    assert [i["sku"] for i in body["items"]] == ["S0", "S1"]
    assert body["search_criteria"]["page_size"] == 2
    _, last = await get(session, url, query=search("S0,S1,S4", size=2, page=2, source="eu"))
    _, past = await get(session, url, query=search("S0,S1,S4", size=2, page=3, source="eu"))
    assert [i["sku"] for i in last["items"]] == ["S4"] and past["items"] == last["items"]  # never empty
    _, anywhere = await get(session, url, query=search("s0"))  # no source filter; SKUs compare caselessly
    assert sorted(i["source_code"] for i in anywhere["items"]) == ["default", "eu"]


async def test_fields_trim_the_product_list(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    fake.add(FakeProduct("P1", manage_stock=False))
    fake.list_stock_items = True  # a store where the list carries stock items
    query = search("P1") | {"fields": "items[sku,extension_attributes[stock_item]],total_count"}
    _, body = await get(session, f"{fake.base_url}/V1/products", query=query)
    assert set(body) == {"items", "total_count"}
    (product,) = body["items"]
    assert set(product) == {"sku", "extension_attributes"} and set(product["extension_attributes"]) == {
        "stock_item"
    }
    assert product["extension_attributes"]["stock_item"]["manage_stock"] is False


async def test_input_limits_cap_lists_and_pages(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    seed(fake, 30)
    items = [{"sku": f"S{i}", "source_code": "eu", "quantity": 1, "status": 1} for i in range(21)]
    url = f"{fake.base_url}/V1/inventory/source-items"
    assert (await post(session, url, {"sourceItems": items}))[0] == 200  # off by default: no cap
    fake.input_limits = True
    status, body = await post(session, url, {"sourceItems": items})
    assert status == 400 and body["message"] == 'Maximum items of type "%type" is %max'
    assert body["parameters"]["max"] == 20
    assert (await post(session, url, {"sourceItems": items[:20]}))[0] == 200
    assert (await get(session, url, query=search("S1", size=301)))[0] == 400
    _, default = await get(session, url, query=search(",".join(f"S{i}" for i in range(30))))
    assert len(default["items"]) == 20 and default["total_count"] == 30  # default page size 20


async def test_a_save_is_validated_as_a_whole(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    fake.add(FakeProduct("A"), default=(5, 1))
    url = f"{fake.base_url}/V1/inventory/source-items"
    good = {"sku": "A", "source_code": "default", "quantity": 0, "status": 0}
    for bad in (
        {"sku": " B", "source_code": "default", "quantity": 1, "status": 1},
        {"sku": "B", "source_code": "nowhere", "quantity": 1, "status": 1},
        {"sku": "B", "source_code": "default", "quantity": 1},  # status is required
    ):
        status, body = await post(session, url, {"sourceItems": [good, bad]})
        assert status == 400 and body["message"] == "Validation Failed" and body["errors"]
        assert fake.item("A") == {
            "sku": "A",
            "source_code": "default",
            "quantity": 5,
            "status": 1,
        }  # nothing saved
    status, body = await post(session, url, {"items": []})
    assert status == 400 and body["parameters"] == {"fieldName": "sourceItems"}
    unknown = {"sku": "NO-PRODUCT", "source_code": "default", "quantity": 3, "status": 1}
    assert await post(session, url, {"sourceItems": [good, unknown]}) == (200, [])  # magento2#38154
    assert fake.item("NO-PRODUCT") is not None
    assert (fake.products["a"].qty, fake.products["a"].is_in_stock) == (0, False)  # legacy stock item synced


async def test_reconciler_against_the_fake(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    seed(fake, 250)
    fake.add(FakeProduct("UNMANAGED", manage_stock=False), eu=(0, 1))
    fake.add(FakeProduct("ELSEWHERE"), default=(4, 1))
    reconciler = build(session, fake)
    wanted = [SyncedVariant("m1", f"S{i}", f"u{i}") for i in range(250)]
    wanted += [SyncedVariant("m1", s, "x") for s in ("UNMANAGED", "ELSEWHERE", "MISSING")]
    observed = {o.external_id: o for o in await reconciler.observe(wanted)}
    assert (fake.stats.product_reads, fake.stats.reads) == (3, 3)  # 253 SKUs in chunks of 100
    assert fake.stats.stock_item_reads == 252  # the list leaves stock items out: one read per product
    assert observed["S0"] == Observed("S0", False, 0) and observed["S7"] == Observed("S7", True, 7)
    assert observed["UNMANAGED"].problem and observed["ELSEWHERE"].problem and "MISSING" not in observed
    changes = [Change(f"S{i}", Availability(i % 2 == 0, None)) for i in range(20)]
    result = await reconciler.apply(changes)
    assert len(result.confirmed) == 20 and fake.stats.write_sizes == [20]
    assert fake.item("S2", "eu") == {"sku": "S2", "source_code": "eu", "quantity": 100, "status": 1}
    assert fake.item("S3", "eu") == {"sku": "S3", "source_code": "eu", "quantity": 0, "status": 0}
    back = await reconciler.observe([SyncedVariant("m1", "S2", "u"), SyncedVariant("m1", "S3", "u")])
    assert back == [Observed("S2", True, 100), Observed("S3", False, 0)]


async def test_a_source_linked_to_no_stock_is_reported_not_written(
    session: aiohttp.ClientSession, fake: MagentoFake
) -> None:
    seed(fake, 2)
    fake.links = [link for link in fake.links if link["source_code"] != "eu"]
    observed = await build(session, fake).observe([SyncedVariant("m1", "S1", "u")])
    assert observed[0].problem is not None and "linked to no stock" in observed[0].problem
    assert fake.stats.reads == 0  # its source items were never read


async def test_a_sku_with_a_slash_is_read_and_written(
    session: aiohttp.ClientSession, fake: MagentoFake
) -> None:
    fake.add(FakeProduct("TEE/RED", manage_stock=False), eu=(2, 1))
    fake.add(FakeProduct("TEE/BLUE"), eu=(2, 1))
    reconciler = build(session, fake)
    red, blue = await reconciler.observe([SyncedVariant("m1", s, "u") for s in ("TEE/RED", "TEE/BLUE")])
    assert red.problem is not None and "Manage Stock is No" in red.problem  # its own stock item was read
    assert blue == Observed("TEE/BLUE", True, 2) and fake.stats.stock_item_reads == 2
    assert (await reconciler.apply([Change("TEE/BLUE", Availability(False, 0))])).failed == ()
    assert fake.item("TEE/BLUE", "eu") == {"sku": "TEE/BLUE", "source_code": "eu", "quantity": 0, "status": 0}


async def test_a_refused_item_fails_alone(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    seed(fake, 4)
    fake.refused_skus.add("S2")
    result = await build(session, fake).apply([Change(f"S{i}", Availability(True, 9)) for i in range(4)])
    assert [o.external_id for o in result.confirmed] == ["S0", "S1", "S3"]
    assert [(f.external_id, f.kind.value) for f in result.failed] == [("S2", "permanent")]
    assert fake.stats.write_sizes == [1, 1, 1] and fake.stats.refused_writes == 2


async def test_throttle_and_server_errors_are_retried(
    session: aiohttp.ClientSession, fake: MagentoFake
) -> None:
    seed(fake, 2)
    fake.throttle_next = [0.0]
    fake.fail_next = [503]
    observed = await build(session, fake).observe([SyncedVariant("m1", "S1", "u")])
    assert observed == [Observed("S1", True, 1)] and fake.stats.throttled == 1


async def test_a_wrong_token_is_an_auth_failure(session: aiohttp.ClientSession, fake: MagentoFake) -> None:
    seed(fake, 2)
    fake.token = "rotated"
    with pytest.raises(AuthError):
        await build(session, fake).observe([SyncedVariant("m1", "S1", "u")])
    result = await build(session, fake).apply([Change("S1", Availability(False, 0))])
    assert [f.kind.value for f in result.failed] == ["auth"] and fake.item("S1", "eu")["quantity"] == 1  # type: ignore[index]


async def test_the_contract_flows_stay_within_the_admin_schema(session: aiohttp.ClientSession) -> None:
    server = MagentoFake(TOKEN, sources=("default", "eu"), spec=magento_spec())
    await server.start()
    try:
        seed(server, 30)
        server.add(FakeProduct("CONF", type_id="configurable"))
        server.add(FakeProduct("UNMANAGED", manage_stock=False), eu=(0, 1))
        reconciler = build(session, server, page_size=12)
        wanted = [
            SyncedVariant("m1", s, "u") for s in [f"S{i}" for i in range(30)] + ["CONF", "UNMANAGED", "NO"]
        ]
        assert len(await reconciler.observe(wanted)) == 32  # a full pass, three chunks
        changes = [Change(f"S{i}", Availability(True, i + 1)) for i in range(20)]
        assert len((await reconciler.apply(changes)).confirmed) == 20  # a write
        server.throttle_next = [0.0]
        server.fail_next = [503]
        assert (await reconciler.apply(changes[:1])).failed == ()  # throttle and a server error
        server.refused_skus.add("S3")
        refused = await reconciler.apply(changes[2:5])  # a refused batch, isolated
        assert [f.external_id for f in refused.failed] == ["S3"]
        server.token = "rotated"
        assert [f.kind.value for f in (await reconciler.apply(changes[:2])).failed] == ["auth", "auth"]
        assert server.violations == []
        # the checks are live: a body the schema refuses (status as text) is recorded
        server.token = TOKEN
        off_spec = {"sourceItems": [{"sku": "S1", "source_code": "eu", "quantity": 1, "status": "1"}]}
        assert (await post(session, f"{server.base_url}/V1/inventory/source-items", off_spec))[0] == 400
    finally:
        await server.stop()
    assert server.stats.requests >= 12
    assert len(server.violations) == 1 and "status" in server.violations[0]
