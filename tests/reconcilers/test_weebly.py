"""WeeblyReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses.core import RequestCall

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, StoreRules, SyncedVariant
from reconcilers.capabilities import StockModel, WriteUnit
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import AuthError, TemporaryError, Transport
from reconcilers.weebly import WeeblyReconciler
from reconcilers.weebly_skus import signed_messages
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "weebly"
TOKEN, SECRET = "wbly-oauth-token-77aa", "weebly-app-secret-key"
API = "https://api.weebly.com/v1/user/sites/987654321/store/products"
CREDENTIAL = Secret("weebly-site", json.dumps({"access_token": TOKEN, "client_secret": SECRET}))
HEADERS = {"X-Weebly-Access-Token": TOKEN, "Accept": "application/vnd.weebly.v1+json"}
# the documented example body, hmac computed independently (openssl dgst -sha256 -hmac) over
# {"client_id":"1091040000","client_version":"1.0.0","event":"store.product.update","timestamp":1440016771,
#  "data":{"user_id":"55300000","site_id":"987654321","product_id":"32"}}
VECTOR = "55a485b2ff352d0f4d82125eb96f0804d99330bdf706d5486030979adf0100bb"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def skus_url(product: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(API)}/{product}/skus\?.*$")


def reconciler(
    session: aiohttp.ClientSession,
    credential: Secret = CREDENTIAL,
    rules: StoreRules | None = None,
    **settings: Any,
) -> WeeblyReconciler:
    store = StoreConfig(
        "w1",
        "weebly",
        "europe",
        "weebly-site",
        rules=rules or StoreRules(),
        settings={"site_id": "987654321", **settings},
    )
    transport = quick_transport(session, "weebly", "w1")
    return WeeblyReconciler(ReconcilerContext(store, transport, credential))


def variant(external_id: str) -> SyncedVariant:
    return SyncedVariant("w1", external_id, f"v-{external_id}")


def change(external_id: str, available: bool, quantity: int | None = None, **ref: Any) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref or None)


def calls(mocked: aioresponses, method: str) -> list[tuple[str, RequestCall]]:
    """(path, call) for every request of a method, in order, checking the auth and version headers."""
    found = [
        (url.path, call)
        for (verb, url), recorded in mocked.requests.items()
        if verb == method
        for call in recorded
    ]
    for _, call in found:
        assert call.kwargs["headers"] == HEADERS
    return found


# --- capabilities and configuration --------------------------------------------------------------


def test_capabilities_are_the_documented_limits() -> None:
    caps = WeeblyReconciler.capabilities
    assert (caps.stock_model, caps.max_read_batch, caps.compare_and_set) == (StockModel.QUANTITY, 200, False)
    assert caps.write_unit is WriteUnit.ITEM and caps.unit_key("32:1") == "32:1"
    assert caps.product_of("32:1") == "32"
    assert "hmac" in (caps.webhook_scheme or "") and "null" in (caps.unlimited or "")
    assert "2026-12-07" in caps.source and "pf_api_product_sku" in caps.source


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"site_id": None}, "site_id"),
        ({"site_id": "my-site"}, "site_id"),
        ({"base_url": "http://api.weebly.com/v1"}, "base_url"),  # the token over plain HTTP
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"page_size": 50}, "page_size"),  # not a refinement Weebly takes
        ({"in_stock_quantity": 0}, "in_stock_quantity"),
    ],
)
async def test_bad_settings_name_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        reconciler(session, **settings)


async def test_a_credential_without_token_is_refused_without_values(session: aiohttp.ClientSession) -> None:
    with pytest.raises(CredentialError, match="access_token") as info:
        reconciler(session, credential=Secret("weebly-site", json.dumps({"client_secret": SECRET})))
    assert SECRET not in str(info.value)


async def test_a_plain_token_credential_reads_but_refuses_webhooks(session: aiohttp.ClientSession) -> None:
    weebly = reconciler(session, credential=Secret("weebly-site", TOKEN))
    assert weebly.verify_webhook({}, json.dumps(fixture("webhook_product_update")).encode()) is False


# --- observe -------------------------------------------------------------------------------------


async def test_observe_reads_the_sku_list_once_per_product(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("32"), payload=fixture("full"), headers={"X-Resultset-Total": "2"})
        observed = await reconciler(session).observe([variant("32:2"), variant("32:1"), variant("32:9")])
    [(path, call)] = calls(mocked, "GET")
    assert path == "/v1/user/sites/987654321/store/products/32/skus"
    assert call.kwargs["params"] == {"limit": "200", "page": "1"}
    assert sorted(observed, key=lambda o: o.external_id) == [  # 32:9 is not a SKU of the product
        Observed("32:1", True, 5, {"untracked": False}),
        Observed("32:2", True, 12, {"untracked": False}),
    ]


async def test_observe_follows_pages_by_the_resultset_total(session: aiohttp.ClientSession) -> None:
    first = [{"product_id": "32", "product_sku_id": str(n), "inventory": 1} for n in range(1, 201)]
    second = [{"product_id": "32", "product_sku_id": "201", "inventory": 0}]
    with aioresponses() as mocked:
        mocked.get(skus_url("32"), payload=first, headers={"X-Resultset-Total": "201"})
        mocked.get(skus_url("32"), payload=second, headers={"X-Resultset-Total": "201"})
        observed = await reconciler(session).observe([variant("32:201"), variant("32:7")])
    assert [call.kwargs["params"]["page"] for _, call in calls(mocked, "GET")] == ["1", "2"]
    assert {(o.external_id, o.quantity) for o in observed} == {("32:201", 0), ("32:7", 1)}


async def test_observe_without_a_total_stops_at_a_short_page(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("68"), payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant("68:1")])
    assert len(calls(mocked, "GET")) == 1
    assert observed == [Observed("68:1", True, 4, {"untracked": False})]


async def test_observe_zero_and_untracked_shapes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("12"), payload=fixture("zero"))
        mocked.get(skus_url("68"), payload=fixture("untracked"))
        observed = await reconciler(session).observe([variant("12:3"), variant("68:1")])
    by_id = {o.external_id: o for o in observed}
    assert by_id["12:3"] == Observed("12:3", False, 0, {"untracked": False})
    assert by_id["68:1"] == Observed("68:1", True, None, {"untracked": True}, unlimited=True)


async def test_observe_a_deleted_product_finds_none_of_its_skus(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("40"), status=404, payload={"error": {"code": 404, "message": "Not found"}})
        mocked.get(skus_url("68"), payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant("40:1"), variant("68:1")])
    assert [o.external_id for o in observed] == ["68:1"]


async def test_observe_values_it_cannot_hold_are_problems(session: aiohttp.ClientSession) -> None:
    skus = [
        {"product_sku_id": "1", "inventory": 3_000_000_000},
        {"product_sku_id": "2", "inventory": "7"},
        {"product_sku_id": "3"},
        {"product_sku_id": "4", "inventory": -2},
    ]
    with aioresponses() as mocked:
        mocked.get(skus_url("5"), payload=skus)
        observed = await reconciler(session).observe([variant(f"5:{n}") for n in range(1, 5)])
    by_id = {o.external_id: o for o in observed}
    assert "3000000000" in (by_id["5:1"].problem or "")
    assert "not a number" in (by_id["5:2"].problem or "")
    assert "inventory field" in (by_id["5:3"].problem or "")
    assert (by_id["5:4"].available, by_id["5:4"].quantity) == (False, -2)  # oversold: shown as is


async def test_observe_marks_ids_weebly_cannot_have_without_a_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        observed = await reconciler(session).observe([variant("32"), variant("x:1"), variant("1:")])
    assert calls(mocked, "GET") == []
    assert all(o.problem and "product_sku_id" in o.problem for o in observed) and len(observed) == 3


async def test_observe_a_malformed_answer_is_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("32"), payload={"skus": []})
        with pytest.raises(TemporaryError):
            await reconciler(session).observe([variant("32:1")])


async def test_observe_a_refused_token_is_an_auth_error_without_the_token(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("32"), status=401, payload={"error": {"code": 401, "message": "bad token"}})
        with pytest.raises(AuthError) as info:
            await reconciler(session).observe([variant("32:1")])
    assert "401" in str(info.value) and TOKEN not in str(info.value)


async def test_a_429_waits_for_retry_after_then_reads(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(skus_url("68"), status=429, headers={"Retry-After": "0"}, payload={"error": "Too many"})
        mocked.get(skus_url("68"), payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant("68:1")])
    assert [(o.available, o.quantity) for o in observed] == [(True, 4)]
    assert len(calls(mocked, "GET")) == 2


# --- apply ---------------------------------------------------------------------------------------


def sku_answer(inventory: int | None) -> dict[str, Any]:
    return {**fixture("patch_answer"), "inventory": inventory}


async def test_apply_patches_only_the_inventory_one_sku_per_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{API}/32/skus/2", payload=fixture("patch_answer"))
        mocked.patch(f"{API}/12/skus/3", payload=sku_answer(0))
        result = await reconciler(session).apply([change("32:2", True, 7), change("12:3", False, 4)])
    patches = calls(mocked, "PATCH")
    assert [(path, call.kwargs["json"]) for path, call in patches] == [
        ("/v1/user/sites/987654321/store/products/32/skus/2", {"inventory": 7}),
        ("/v1/user/sites/987654321/store/products/12/skus/3", {"inventory": 0}),
    ]
    assert calls(mocked, "PUT") == []  # never the replacing verb
    assert result.failed == ()
    assert result.confirmed == (
        Observed("32:2", True, 7, {"untracked": False}),
        Observed("12:3", False, 0, {"untracked": False}),
    )


async def test_status_mode_writes_the_in_stock_quantity_or_zero(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{API}/32/skus/1", payload=sku_answer(25))
        mocked.patch(f"{API}/68/skus/1", payload=sku_answer(0))
        result = await reconciler(session, in_stock_quantity=25).apply(
            [change("32:1", True, untracked=False), change("68:1", False, untracked=True)]
        )
    assert [call.kwargs["json"] for _, call in calls(mocked, "PATCH")] == [
        {"inventory": 25},
        {"inventory": 0},
    ]
    assert [(o.available, o.quantity) for o in result.confirmed] == [(True, 25), (False, 0)]


async def test_status_mode_leaves_an_untracked_sku_untracked(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        result = await reconciler(session, rules=StoreRules(pod_quantity=40)).apply(
            [change("68:1", True, untracked=True)]
        )
    assert calls(mocked, "PATCH") == []  # never given a count it did not ask for
    assert result.confirmed == (Observed("68:1", True, None, {"untracked": True}, unlimited=True),)


async def test_the_pod_quantity_is_the_default_in_stock_quantity(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{API}/32/skus/1", payload=sku_answer(40))
        await reconciler(session, rules=StoreRules(pod_quantity=40)).apply([change("32:1", True)])
    [(_, call)] = calls(mocked, "PATCH")
    assert call.kwargs["json"] == {"inventory": 40}


async def test_apply_maps_each_item_failure(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{API}/1/skus/1", status=400, payload={"error": {"code": 400, "message": "Bad SKU"}})
        mocked.patch(f"{API}/2/skus/1", status=404, payload={"error": {"code": 404, "message": "Not found"}})
        mocked.patch(f"{API}/3/skus/1", payload=sku_answer(None))  # answered, but not what we sent
        for _ in range(3):
            mocked.patch(f"{API}/4/skus/1", status=500, body="oops")
        mocked.patch(f"{API}/6/skus/1", payload=sku_answer(0))
        changes = [change(f"{n}:1", False, 0) for n in (1, 2, 3, 4, 6)]
        changes.append(change("5:1", False, 0, cannot_enforce="bad store value"))
        changes.append(change("x1", False, 0))
        result = await reconciler(session).apply(changes)
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {
        "1:1": FailureKind.PERMANENT,
        "2:1": FailureKind.PERMANENT,
        "3:1": FailureKind.TEMPORARY,  # not applied: retried later
        "4:1": FailureKind.TEMPORARY,
        "5:1": FailureKind.PROBLEM,  # never sent
        "x1": FailureKind.PERMANENT,
    }
    assert [o.external_id for o in result.confirmed] == ["6:1"]
    assert "Bad SKU" in next(f.reason for f in result.failed if f.external_id == "1:1")
    assert "/products/5/skus/1" not in " ".join(path for path, _ in calls(mocked, "PATCH"))


async def test_a_refused_token_stops_the_other_writes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{API}/1/skus/1", status=403, payload=fixture("error"))
        result = await reconciler(session).apply([change("1:1", False, 0), change("2:1", False, 0)])
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]
    assert len(calls(mocked, "PATCH")) == 1
    assert "write:store-catalog" in result.failed[0].reason


# --- webhooks ------------------------------------------------------------------------------------


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


async def test_the_documented_hmac_test_vector_verifies(session: aiohttp.ClientSession) -> None:
    event = fixture("webhook_product_update")
    assert event["hmac"] == VECTOR
    weebly = reconciler(session)
    assert weebly.verify_webhook({}, body_of(event)) is True  # no header carries the signature
    spaced = json.dumps(event, indent=2).encode()  # the body's own spacing does not matter
    assert weebly.verify_webhook({}, spaced) is True
    assert weebly.verify_webhook({}, body_of({**event, "hmac": VECTOR.upper()})) is True


@pytest.mark.parametrize(
    "tamper",
    [
        {"timestamp": 1440016772},
        {"event": "store.product.delete"},
        {"client_version": "1.0.1"},
        {"data": {"user_id": "55300000", "site_id": "987654321", "product_id": "33"}},
        {"data": {"site_id": "987654321", "user_id": "55300000", "product_id": "32"}},  # order is signed
        {"hmac": "0" * 64},
        {"hmac": None},
    ],
)
async def test_any_signed_field_changed_fails(session: aiohttp.ClientSession, tamper: dict[str, Any]) -> None:
    event = {**fixture("webhook_product_update"), **tamper}
    assert reconciler(session).verify_webhook({}, body_of(event)) is False


async def test_verify_never_raises_and_needs_the_right_secret(session: aiohttp.ClientSession) -> None:
    weebly = reconciler(session)
    other = Secret("weebly-site", json.dumps({"access_token": TOKEN, "client_secret": "another-app"}))
    assert (
        reconciler(session, credential=other).verify_webhook({}, body_of(fixture("webhook_product_update")))
        is False
    )
    for body in (b"[" * 100_000, b"[1]", b"{}", b'{"hmac": 5}', b"not json"):
        assert weebly.verify_webhook({}, body) is False


async def test_both_php_and_node_escaping_are_accepted() -> None:
    event = {**fixture("webhook_product_update")}
    event["data"] = {**event["data"], "note": "a/b \u00e9"}
    plain, php = signed_messages(event)
    assert b'"note":"a/b \xc3\xa9"' in plain and b'"note":"a\\/b \\u00e9"' in php
    # computed independently with openssl over each spelling
    vectors = {
        "40826c17f6e2b5c1b5f8481b6ecc14c02597829f08a7a5c50a69cf2d6bcf4a10",  # PHP json_encode
        "69b8764da75f956d0b7edd084d77c121c2d05c2587c102a98b611296789f9488",  # Node JSON.stringify
    }
    store = StoreConfig("w1", "weebly", "europe", "weebly-site", settings={"site_id": "987654321"})
    async with aiohttp.ClientSession() as session:
        transport = Transport(session, platform="weebly", store_id="w1", pacer=LeakyBucketPacer(1000, 1000))
        weebly = WeeblyReconciler(ReconcilerContext(store, transport, CREDENTIAL))
        for vector in vectors:
            assert weebly.verify_webhook({}, body_of({**event, "hmac": vector})) is True


async def test_a_product_event_asks_for_a_reread_with_its_time(session: aiohttp.ClientSession) -> None:
    weebly = reconciler(session)
    notification = weebly.parse_webhook({}, body_of(fixture("webhook_product_update")))
    assert list(notification) == [] and notification.reread_products == {"32"}  # that product only
    assert notification.reread is False and notification.delivery_id is None  # Weebly sends no id
    assert notification.occurred_at == datetime.fromtimestamp(1440016771, UTC)
    event = {**fixture("webhook_product_update"), "event": "store.product.delete"}
    assert weebly.parse_webhook({}, body_of(event)).reread_products == {"32"}


@pytest.mark.parametrize("name", ["store.order.pay", "store.cart.update", "site.publish"])
async def test_other_events_change_nothing(session: aiohttp.ClientSession, name: str) -> None:
    event = {**fixture("webhook_product_update"), "event": name}
    notification = reconciler(session).parse_webhook({}, body_of(event))
    assert list(notification) == [] and notification.reread is False and not notification.reread_products


async def test_another_sites_event_is_ignored(session: aiohttp.ClientSession) -> None:
    event = fixture("webhook_product_update")
    event["data"]["site_id"] = "111"
    notification = reconciler(session).parse_webhook({}, body_of(event))
    assert notification.reread is False and not notification.reread_products


async def test_a_product_event_without_a_product_rereads_the_store(session: aiohttp.ClientSession) -> None:
    event = fixture("webhook_product_update")
    del event["data"]["product_id"]
    assert reconciler(session).parse_webhook({}, body_of(event)).reread is True


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"event": None}, "event"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 10**15}, "timestamp"),
        ({"data": "x"}, "data"),
        ({"data": {"product_id": "32"}}, "data.site_id"),
        ({"data": {"site_id": "987654321", "product_id": "../32"}}, "data.product_id"),
    ],
)
async def test_malformed_events_name_the_field(
    session: aiohttp.ClientSession, patch: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as info:
        reconciler(session).parse_webhook({}, body_of({**fixture("webhook_product_update"), **patch}))
    assert info.value.field == field


async def test_a_body_that_is_not_an_object_is_bad_input(session: aiohttp.ClientSession) -> None:
    with pytest.raises(InputError) as info:
        reconciler(session).parse_webhook({}, b"[1, 2]")
    assert info.value.field == "body"
