"""EcwidReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
from reconcilers.ecwid import EcwidReconciler
from reconcilers.interface import ReconcilerContext
from reconcilers.transport import AuthError, TemporaryError
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "ecwid"
TOKEN, CLIENT_SECRET = "secret_ab12cd34ef56", "ecwid-app-client-secret"
API = "https://app.ecwid.com/api/v3/1003"
CREDENTIAL = Secret("ecwid-shop", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
SEARCH = re.compile(r"^https://app\.ecwid\.com/api/v3/1003/products\?.*$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    credential: Secret = CREDENTIAL,
    rules: StoreRules | None = None,
    **settings: Any,
) -> EcwidReconciler:
    store = StoreConfig(
        "e1",
        "ecwid",
        "europe",
        "ecwid-shop",
        rules=rules or StoreRules(),
        settings={"store_id": "1003", **settings},
    )
    transport = quick_transport(session, "ecwid", "e1")
    return EcwidReconciler(ReconcilerContext(store, transport, credential))


def variant(external_id: str) -> SyncedVariant:
    return SyncedVariant("e1", external_id, f"v-{external_id}")


def change(external_id: str, available: bool, quantity: int | None = None, **ref: Any) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref or None)


def calls(mocked: aioresponses, method: str) -> list[tuple[str, RequestCall]]:
    """(path, call) for every request of a method, in order, checking the bearer token."""
    found = [
        (url.path, call)
        for (verb, url), recorded in mocked.requests.items()
        if verb == method
        for call in recorded
    ]
    for _, call in found:
        assert call.kwargs["headers"] == {"Authorization": f"Bearer {TOKEN}"}
    return found


def signature(created: int, event_id: str, secret: str = CLIENT_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{created}.{event_id}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- capabilities and configuration --------------------------------------------------------------


def test_capabilities_are_the_documented_limits() -> None:
    caps = EcwidReconciler.capabilities
    assert (caps.stock_model, caps.max_read_batch, caps.compare_and_set) == (StockModel.QUANTITY, 100, False)
    assert caps.rate_budget.requests_per_second == 10.0  # 600 requests per minute per token
    assert caps.write_unit is WriteUnit.ITEM and caps.unit_key("12:34") == "12:34"
    assert "X-Ecwid-Webhook-Signature" in (caps.webhook_scheme or "")
    assert "2026-12-07" in caps.source and "unlimited" in (caps.unlimited or "")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"store_id": None}, "store_id"),
        ({"store_id": "my-shop"}, "store_id"),
        ({"base_url": "http://app.ecwid.com/api/v3"}, "base_url"),  # the token over plain HTTP
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"page_size": 50}, "page_size"),  # not a refinement Ecwid takes
        ({"in_stock_quantity": 0}, "in_stock_quantity"),
    ],
)
async def test_bad_settings_name_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        reconciler(session, **settings)


async def test_a_public_token_is_refused_without_showing_it(session: aiohttp.ClientSession) -> None:
    public = Secret("ecwid-shop", json.dumps({"access_token": "public_zz998877"}))
    with pytest.raises(CredentialError, match="public_ token") as info:
        reconciler(session, credential=public)
    assert "zz998877" not in str(info.value)


async def test_a_plain_token_credential_is_accepted(session: aiohttp.ClientSession) -> None:
    assert reconciler(session, credential=Secret("ecwid-shop", TOKEN)).verify_webhook({}, b"{}") is False


# --- observe -------------------------------------------------------------------------------------


async def test_observe_reads_products_by_id_list_in_one_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(SEARCH, payload=fixture("full"))
        observed = await reconciler(session).observe([variant("102"), variant("101")])
    [(path, call)] = calls(mocked, "GET")
    assert path == "/api/v3/1003/products"
    assert call.kwargs["params"] == {"productId": "101,102", "limit": "100", "offset": "0"}
    assert sorted(observed, key=lambda o: o.external_id) == [
        Observed("101", True, 12, {"unlimited": False}),
        Observed("102", True, 3, {"unlimited": False}),
    ]


async def test_observe_follows_offset_pages_until_total(session: aiohttp.ClientSession) -> None:
    first = {"total": 2, "count": 1, "offset": 0, "limit": 1, "items": [fixture("minimal")["items"][0]]}
    second = {
        "total": 2,
        "count": 1,
        "offset": 1,
        "limit": 1,
        "items": [{"id": 102, "quantity": 0, "unlimited": False}],
    }
    with aioresponses() as mocked:
        mocked.get(SEARCH, payload=first)
        mocked.get(SEARCH, payload=second)
        observed = await reconciler(session).observe([variant("101"), variant("102")])
    offsets = [call.kwargs["params"]["offset"] for _, call in calls(mocked, "GET")]
    assert offsets == ["0", "1"]
    assert {(o.external_id, o.available, o.quantity) for o in observed} == {
        ("101", True, 4),
        ("102", False, 0),
    }


async def test_observe_reads_variations_once_per_product(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/500/combinations", payload=fixture("combinations"))
        observed = await reconciler(session).observe(
            [variant("500:502"), variant("500:501"), variant("500:599")]
        )
    [(path, _)] = calls(mocked, "GET")
    assert path == "/api/v3/1003/products/500/combinations"
    by_id = {o.external_id: o for o in observed}
    assert set(by_id) == {"500:501", "500:502"}  # 599 is not a variation of the product: not found
    assert by_id["500:501"] == Observed("500:501", True, 5, {"unlimited": False})
    assert by_id["500:502"] == Observed("500:502", True, None, {"unlimited": True}, unlimited=True)


async def test_observe_a_deleted_parent_finds_none_of_its_variations(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{API}/products/500/combinations", status=404, payload={"errorMessage": "Product not found"}
        )
        mocked.get(SEARCH, payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant("500:501"), variant("101")])
    assert [o.external_id for o in observed] == ["101"]


async def test_observe_zero_unlimited_and_preorder_shapes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(SEARCH, payload=fixture("zero"))
        mocked.get(SEARCH, payload=fixture("untracked"))
        zero = await reconciler(session).observe([variant("101")])
        untracked = await reconciler(session).observe([variant("104"), variant("105")])
    assert zero == [Observed("101", False, 0, {"unlimited": False})]
    by_id = {o.external_id: o for o in untracked}
    assert by_id["104"] == Observed("104", True, None, {"unlimited": True}, unlimited=True)
    assert by_id["105"].problem is not None and "ALLOW_PREORDER" in by_id["105"].problem
    assert by_id["105"].available is None and by_id["105"].quantity is None


async def test_observe_counts_it_cannot_hold_are_problems(session: aiohttp.ClientSession) -> None:
    items = [
        {"id": 101, "quantity": 3_000_000_000, "unlimited": False},
        {"id": 102, "unlimited": False},
        {"id": 103, "quantity": 2.0, "unlimited": False},
    ]
    with aioresponses() as mocked:
        mocked.get(SEARCH, payload={"total": 3, "count": 3, "offset": 0, "limit": 100, "items": items})
        observed = await reconciler(session).observe([variant("101"), variant("102"), variant("103")])
    by_id = {o.external_id: o for o in observed}
    assert "3000000000" in (by_id["101"].problem or "")
    assert "quantity missing" in (by_id["102"].problem or "")
    assert (by_id["103"].available, by_id["103"].quantity) == (True, 2)


async def test_observe_ignores_ids_ecwid_cannot_have(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        assert await reconciler(session).observe([variant("012"), variant("x"), variant("1:")]) == []
    assert calls(mocked, "GET") == []


async def test_observe_a_malformed_answer_is_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(SEARCH, payload={"items": "nope"})
        with pytest.raises(TemporaryError):
            await reconciler(session).observe([variant("101")])


async def test_observe_a_refused_token_is_an_auth_error_without_the_token(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(SEARCH, status=403, payload=fixture("error"))
        with pytest.raises(AuthError) as info:
            await reconciler(session).observe([variant("101")])
    assert "403" in str(info.value) and TOKEN not in str(info.value)


async def test_a_429_waits_for_retry_after_then_reads(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(SEARCH, status=429, headers={"Retry-After": "0"}, payload={"errorMessage": "Too many"})
        mocked.get(SEARCH, payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant("101")])
    assert [(o.available, o.quantity) for o in observed] == [(True, 4)]
    assert len(calls(mocked, "GET")) == 2


# --- apply ---------------------------------------------------------------------------------------


async def test_apply_puts_absolute_values_one_item_per_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101", payload={"updateCount": 1})
        mocked.put(f"{API}/products/500/combinations/501", payload={"updateCount": 1})
        result = await reconciler(session).apply([change("101", True, 7), change("500:501", False, 0)])
    puts = calls(mocked, "PUT")
    assert [(path, call.kwargs["json"]) for path, call in puts] == [
        ("/api/v3/1003/products/101", {"quantity": 7, "unlimited": False}),
        ("/api/v3/1003/products/500/combinations/501", {"quantity": 0, "unlimited": False}),
    ]
    assert result.failed == ()
    assert result.confirmed == (
        Observed("101", True, 7, {"unlimited": False}),
        Observed("500:501", False, 0, {"unlimited": False}),
    )


async def test_status_mode_writes_the_in_stock_quantity_or_zero(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101", payload={"updateCount": 1})
        mocked.put(f"{API}/products/102", payload={"updateCount": 1})
        result = await reconciler(session, in_stock_quantity=25).apply(
            [change("101", True, unlimited=False), change("102", False, unlimited=True)]
        )
    bodies = [call.kwargs["json"] for _, call in calls(mocked, "PUT")]
    assert bodies == [{"quantity": 25, "unlimited": False}, {"quantity": 0, "unlimited": False}]
    assert [(o.available, o.quantity) for o in result.confirmed] == [(True, 25), (False, 0)]


async def test_status_mode_leaves_an_unlimited_item_unlimited(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        result = await reconciler(session, rules=StoreRules(pod_quantity=40)).apply(
            [change("104", True, unlimited=True)]
        )
    assert calls(mocked, "PUT") == []  # never given a count it did not ask for
    assert result.confirmed == (Observed("104", True, None, {"unlimited": True}, unlimited=True),)


async def test_the_pod_quantity_is_the_default_in_stock_quantity(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101", payload={"updateCount": 1})
        await reconciler(session, rules=StoreRules(pod_quantity=40)).apply([change("101", True)])
    [(_, call)] = calls(mocked, "PUT")
    assert call.kwargs["json"] == {"quantity": 40, "unlimited": False}


async def test_apply_maps_each_item_failure(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101", status=400, payload={"errorMessage": "Variation without SKU"})
        mocked.put(f"{API}/products/102", status=404, payload={"errorMessage": "Product not found"})
        mocked.put(f"{API}/products/103", payload={"updateCount": 0})
        for _ in range(3):
            mocked.put(f"{API}/products/104", status=500, body="oops")
        mocked.put(f"{API}/products/106", payload={"updateCount": 1})
        changes = [change(e, False, 0) for e in ("101", "102", "103", "104", "106")]
        changes.append(change("105", False, 0, cannot_enforce="sells past 0"))
        changes.append(change("x1", False, 0))
        result = await reconciler(session).apply(changes)
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {
        "101": FailureKind.PERMANENT,
        "102": FailureKind.PERMANENT,
        "103": FailureKind.TEMPORARY,  # nothing updated: retry later
        "104": FailureKind.TEMPORARY,
        "105": FailureKind.PROBLEM,  # never sent
        "x1": FailureKind.PERMANENT,
    }
    assert [o.external_id for o in result.confirmed] == ["106"]
    assert "Variation without SKU" in next(f.reason for f in result.failed if f.external_id == "101")
    assert "/products/105" not in {path for path, _ in calls(mocked, "PUT")}


async def test_a_refused_token_stops_the_other_writes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101", status=403, payload=fixture("error"))
        result = await reconciler(session).apply([change("101", False, 0), change("102", False, 0)])
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]
    assert len(calls(mocked, "PUT")) == 1
    assert "update_catalog" in result.failed[0].reason


# --- webhooks ------------------------------------------------------------------------------------


def hook(event: dict[str, Any] | None = None, secret: str = CLIENT_SECRET) -> tuple[dict[str, str], bytes]:
    event = event or fixture("webhook_product_updated")
    body = json.dumps(event).encode()
    return {"X-Ecwid-Webhook-Signature": signature(event["eventCreated"], event["eventId"], secret)}, body


async def test_the_signature_covers_event_time_and_id(session: aiohttp.ClientSession) -> None:
    ecwid = reconciler(session)
    headers, body = hook()
    assert ecwid.verify_webhook(headers, body) is True
    assert ecwid.verify_webhook({k.lower(): v for k, v in headers.items()}, body) is True
    assert ecwid.verify_webhook(*hook(secret="another-apps-secret")) is False
    event = fixture("webhook_product_updated")
    replayed = {**event, "eventId": "another-event"}  # an old signature on another event
    assert ecwid.verify_webhook(headers, json.dumps(replayed).encode()) is False
    assert ecwid.verify_webhook(headers, json.dumps({**event, "eventCreated": 1469429913}).encode()) is False
    assert ecwid.verify_webhook({}, body) is False
    assert ecwid.verify_webhook(headers, b"[" * 100_000) is False  # never raises
    assert ecwid.verify_webhook(headers, b'{"eventCreated": "x"}') is False


async def test_a_product_event_asks_for_a_reread_with_its_id_and_time(session: aiohttp.ClientSession) -> None:
    ecwid = reconciler(session)
    notification = ecwid.parse_webhook(*hook())
    assert list(notification) == [] and notification.reread_products == {"101"}  # that product only
    assert ecwid.capabilities.product_of("101:7") == ecwid.capabilities.product_of("101") == "101"
    assert notification.delivery_id == "08a78904-0aa0-4c1a-953a-2e33c56236f0"
    assert notification.occurred_at == datetime.fromtimestamp(1469429912, UTC)
    without_entity = {k: v for k, v in fixture("webhook_product_updated").items() if k != "entityId"}
    assert ecwid.parse_webhook(*hook(without_entity)).reread is True  # no product named: the store


@pytest.mark.parametrize("event_type", ["order.created", "customer.updated", "category.updated"])
async def test_other_events_change_nothing(session: aiohttp.ClientSession, event_type: str) -> None:
    event = {**fixture("webhook_product_updated"), "eventType": event_type}
    notification = reconciler(session).parse_webhook(*hook(event))
    assert list(notification) == [] and notification.reread is False


async def test_another_stores_event_is_ignored(session: aiohttp.ClientSession) -> None:
    event = {**fixture("webhook_product_updated"), "storeId": 2004}
    notification = reconciler(session).parse_webhook(*hook(event))
    assert notification.reread is False and list(notification) == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"eventId": None}, "eventId"),
        ({"eventCreated": "yesterday"}, "eventCreated"),
        ({"eventCreated": 10**15}, "eventCreated"),
        ({"eventType": 5}, "eventType"),
        ({"storeId": None}, "storeId"),
    ],
)
async def test_malformed_events_name_the_field(
    session: aiohttp.ClientSession, event: dict[str, Any], field: str
) -> None:
    body = json.dumps({**fixture("webhook_product_updated"), **event}).encode()
    with pytest.raises(InputError) as info:
        reconciler(session).parse_webhook({}, body)
    assert info.value.field == field


async def test_a_body_that_is_not_an_object_is_bad_input(session: aiohttp.ClientSession) -> None:
    with pytest.raises(InputError) as info:
        reconciler(session).parse_webhook({}, b"[1, 2]")
    assert info.value.field == "body"
