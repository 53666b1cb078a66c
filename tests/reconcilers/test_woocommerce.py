"""WooCommerceReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses.core import RequestCall

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import (
    Availability,
    Change,
    ItemFailure,
    Observed,
    StoreConfig,
    StoreMode,
    StoreRules,
    SyncedVariant,
)
from daemon.store_values import screen
from reconcilers.capabilities import StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.transport import AuthError
from reconcilers.woocommerce import API_PATH, FIELDS, WooCommerceReconciler
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "woocommerce"
KEY, CS, HOOK = "ck_test_key_0123", "cs_test_secret_4567", "wc-webhook-secret"
SITE = "https://shop.example.com"
API = SITE + API_PATH
CREDENTIAL = Secret(
    "woo-shop", json.dumps({"consumer_key": KEY, "consumer_secret": CS, "webhook_secret": HOOK})
)
LIST = re.compile(r"^https://shop\.example\.com/wp-json/wc/v3/products\?.*$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    credential: Secret = CREDENTIAL,
    rules: StoreRules | None = None,
    **settings: Any,
) -> WooCommerceReconciler:
    store = StoreConfig(
        "w1",
        "woocommerce",
        "europe",
        "woo-shop",
        rules=rules or StoreRules(),
        settings={"base_url": SITE, **settings},
    )
    transport = quick_transport(session, "woocommerce", "w1")
    return WooCommerceReconciler(ReconcilerContext(store, transport, credential))


def variant(external_id: str) -> SyncedVariant:
    return SyncedVariant("w1", external_id, f"v-{external_id}")


def change(external_id: str, available: bool, quantity: int | None = None, **ref: Any) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref or None)


def calls(mocked: aioresponses, method: str) -> list[tuple[str, RequestCall]]:
    """(path, call) for every request of a method, in order, checking the Basic credentials."""
    found = [
        (url.path, call)
        for (verb, url), recorded in mocked.requests.items()
        if verb == method
        for call in recorded
    ]
    for _, call in found:
        assert call.kwargs["auth"] == aiohttp.BasicAuth(KEY, CS)
    return found


def query(call: RequestCall) -> dict[str, str]:
    return dict(call.kwargs["params"])


def signed(body: bytes, secret: str = HOOK) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --- capabilities and configuration --------------------------------------------------------------


def test_capabilities_are_the_documented_limits(session: aiohttp.ClientSession) -> None:
    caps = WooCommerceReconciler.capabilities
    assert (caps.stock_model, caps.max_read_batch, caps.max_write_batch) == (StockModel.BOTH, 100, 100)
    assert caps.compare_and_set is False
    assert "X-WC-Webhook-Signature" in (caps.webhook_scheme or "")
    assert "2026-11-23" in caps.source and "wc/v3" in caps.source


async def test_requests_per_second_setting_refines_the_budget(session: aiohttp.ClientSession) -> None:
    assert reconciler(session, requests_per_second=7).capabilities.rate_budget.requests_per_second == 7.0
    assert reconciler(session).capabilities.rate_budget.requests_per_second == 2.0


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"base_url": None}, "base_url"),
        ({"base_url": "http://shop.example.com"}, "base_url"),  # Basic auth over plain HTTP
        ({"base_url": "ftp://shop.example.com"}, "base_url"),
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"in_stock_quantity": 0}, "in_stock_quantity"),
    ],
)
async def test_bad_settings_name_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        reconciler(session, **settings)


async def test_plain_http_is_allowed_on_loopback_only(session: aiohttp.ClientSession) -> None:
    assert reconciler(session, base_url="http://127.0.0.1:8080/") is not None


async def test_missing_credential_field_names_it_without_values(session: aiohttp.ClientSession) -> None:
    bad = Secret("woo-shop", json.dumps({"consumer_key": KEY}))
    with pytest.raises(CredentialError, match="consumer_secret") as info:
        reconciler(session, credential=bad)
    assert KEY not in str(info.value)


# --- observe -------------------------------------------------------------------------------------


async def test_observe_reads_simple_products_in_one_include_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, payload=fixture("full"), headers={"X-WP-Total": "2", "X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant("102"), variant("101")])
    [(path, call)] = calls(mocked, "GET")
    assert path == "/wp-json/wc/v3/products"
    assert query(call) == {"include": "101,102", "per_page": "100", "page": "1", "_fields": FIELDS}
    assert sorted(observed, key=lambda o: o.external_id) == [
        Observed("101", True, 12, {"manage_stock": True, "backorders": "no"}),
        Observed("102", False, None, {"manage_stock": False, "backorders": "no"}),
    ]


async def test_observe_reads_variations_per_parent(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{API}/products/200/variations?include=201,202&per_page=100&page=1&_fields={FIELDS}",
            payload=fixture("variations"),
            headers={"X-WP-TotalPages": "1"},
        )
        mocked.get(LIST, payload=fixture("minimal"), headers={"X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant("200:202"), variant("101"), variant("200:201")])
    paths = [path for path, _ in calls(mocked, "GET")]
    assert sorted(paths) == ["/wp-json/wc/v3/products", "/wp-json/wc/v3/products/200/variations"]
    by_id = {o.external_id: o for o in observed}
    assert by_id["200:201"] == Observed("200:201", True, 5, {"manage_stock": True, "backorders": "no"})
    # managed by the parent: the variation shows the parent's count
    assert by_id["200:202"].quantity == 7 and by_id["200:202"].platform_ref == {
        "manage_stock": "parent",
        "backorders": "no",
    }
    assert by_id["101"].available is True


async def test_observe_zero_backorder_and_untracked_shapes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, payload=fixture("zero") + fixture("untracked"), headers={"X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant("101"), variant("103"), variant("104")])
    by_id = {o.external_id: o for o in observed}
    assert (by_id["101"].available, by_id["101"].quantity) == (False, 0)
    assert (by_id["103"].available, by_id["103"].quantity) == (True, 0)  # onbackorder still sells
    assert by_id["103"].platform_ref == {"manage_stock": True, "backorders": "notify"}
    assert (by_id["104"].available, by_id["104"].quantity) == (True, None)  # status only, no count


async def test_observe_unknown_stock_status_is_untracked(session: aiohttp.ClientSession) -> None:
    odd = [{"id": 105, "type": "simple", "manage_stock": False, "stock_quantity": None, "stock_status": None}]
    with aioresponses() as mocked:
        mocked.get(LIST, payload=odd, headers={"X-WP-TotalPages": "1"})
        [observed] = await reconciler(session).observe([variant("105")])
    assert observed.as_availability() is None


async def test_observe_follows_total_pages(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, payload=fixture("minimal"), headers={"X-WP-TotalPages": "2"})
        mocked.get(LIST, payload=fixture("untracked"), headers={"X-WP-TotalPages": "2"})
        observed = await reconciler(session).observe([variant("101"), variant("104")])
    pages = [query(call)["page"] for _, call in calls(mocked, "GET")]
    assert pages == ["1", "2"]
    assert {o.external_id for o in observed} == {"101", "104"}


async def test_observe_chunks_ids_by_the_page_maximum(session: aiohttp.ClientSession) -> None:
    ids = [str(n) for n in range(1, 151)]
    with aioresponses() as mocked:
        mocked.get(LIST, payload=[], headers={"X-WP-TotalPages": "0"}, repeat=True)
        observed = await reconciler(session).observe([variant(i) for i in ids])
    includes = [query(call)["include"].split(",") for _, call in calls(mocked, "GET")]
    assert [len(i) for i in includes] == [100, 50]
    assert observed == []  # not found in the store: absent from the result


async def test_observe_keeps_only_asked_items_and_skips_malformed_ids(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, payload=fixture("full"), headers={"X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant("101"), variant("sku-abc"), variant("0")])
    [(_, call)] = calls(mocked, "GET")
    assert query(call)["include"] == "101"
    assert [o.external_id for o in observed] == ["101"]


async def test_observe_honours_429_retry_after(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, status=429, headers={"Retry-After": "0"})
        mocked.get(LIST, payload=fixture("minimal"), headers={"X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant("101")])
    assert len(calls(mocked, "GET")) == 2
    assert observed[0].quantity == 12


async def test_observe_auth_failure_raises_without_secrets(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, status=401, payload=fixture("unauthorized"))
        with pytest.raises(AuthError) as info:
            await reconciler(session).observe([variant("101")])
    assert "cannot list resources" in str(info.value)
    assert KEY not in str(info.value) and CS not in str(info.value)


# --- apply ---------------------------------------------------------------------------------------


def _answer(entries: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """What batch_items() answers: the saved object per update, stock_status derived as core does."""
    saved = []
    for entry in entries:
        obj = {"id": entry["id"], "type": "simple", "parent_id": 0, "manage_stock": False, "backorders": "no"}
        obj.update({k: v for k, v in entry.items() if k != "id"})
        if obj["manage_stock"] is True:
            obj["stock_status"] = "instock" if obj["stock_quantity"] > 0 else "outofstock"
        else:
            obj["stock_quantity"] = None
        obj.update(overrides.get(str(entry["id"]), {}))
        saved.append(obj)
    return {"update": saved}


async def test_apply_quantity_mode_writes_absolute_managed_stock(session: aiohttp.ClientSession) -> None:
    changes = [change("101", True, 8), change("102", False, 0)]
    with aioresponses() as mocked:
        expected_body = {
            "update": [
                {"id": 101, "manage_stock": True, "stock_quantity": 8, "stock_status": "instock"},
                {
                    "id": 102,
                    "manage_stock": True,
                    "stock_quantity": 0,
                    "stock_status": "outofstock",
                    "backorders": "no",
                },
            ]
        }
        mocked.post(f"{API}/products/batch", payload=_answer(expected_body["update"]))
        result = await reconciler(session).apply(changes)
    [(path, call)] = calls(mocked, "POST")
    assert path == "/wp-json/wc/v3/products/batch"
    assert call.kwargs["json"] == expected_body
    assert result.failed == ()
    assert [(o.external_id, o.available, o.quantity) for o in result.confirmed] == [
        ("101", True, 8),
        ("102", False, 0),
    ]


async def test_apply_status_mode_maps_by_stock_management(session: aiohttp.ClientSession) -> None:
    changes = [
        change("101", False, manage_stock=False),
        change("102", True),  # never observed: treated as unmanaged
        change("103", False, manage_stock=True, backorders="notify"),
        change("104", True, manage_stock=True),
        change("200:202", False, manage_stock="parent"),
    ]
    sent = [
        {"id": 101, "stock_status": "outofstock"},
        {"id": 102, "stock_status": "instock"},
        {"id": 103, "stock_quantity": 0, "stock_status": "outofstock", "backorders": "no"},
        {"id": 104, "stock_quantity": 40, "stock_status": "instock"},
    ]
    answer = _answer(sent[:2] + [{**e, "manage_stock": True} for e in sent[2:]])
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=answer)
        result = await reconciler(session, rules=StoreRules(mode=StoreMode.STATUS, pod_quantity=40)).apply(
            changes
        )
    [(_, call)] = calls(mocked, "POST")
    assert call.kwargs["json"] == {"update": sent}
    assert {o.external_id for o in result.confirmed} == {"101", "102", "103", "104"}
    [refused] = result.failed
    assert refused.external_id == "200:202" and refused.permanent and "parent" in refused.reason


async def test_apply_in_stock_quantity_setting_wins(session: aiohttp.ClientSession) -> None:
    sent = [{"id": 104, "stock_quantity": 5, "stock_status": "instock"}]
    answer = _answer(sent, **{"104": {"manage_stock": True}})
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=answer)
        await reconciler(session, in_stock_quantity=5).apply([change("104", True, manage_stock=True)])
    [(_, call)] = calls(mocked, "POST")
    assert call.kwargs["json"] == {"update": sent}


async def test_apply_variations_go_to_their_parent_batch(session: aiohttp.ClientSession) -> None:
    changes = [change("200:201", True, 3), change("300:301", True, 1), change("101", True, 2)]
    with aioresponses() as mocked:
        for url, entry in (
            (f"{API}/products/200/variations/batch", {"id": 201, "stock_quantity": 3}),
            (f"{API}/products/300/variations/batch", {"id": 301, "stock_quantity": 1}),
            (f"{API}/products/batch", {"id": 101, "stock_quantity": 2}),
        ):
            mocked.post(url, payload=_answer([{**entry, "manage_stock": True}]))
        result = await reconciler(session).apply(changes)
    assert sorted(path for path, _ in calls(mocked, "POST")) == [
        "/wp-json/wc/v3/products/200/variations/batch",
        "/wp-json/wc/v3/products/300/variations/batch",
        "/wp-json/wc/v3/products/batch",
    ]
    assert sorted(o.external_id for o in result.confirmed) == ["101", "200:201", "300:301"]


async def test_apply_partial_failure_maps_item_errors(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=fixture("batch_partial"))
        result = await reconciler(session).apply([change("101", False, 0), change("999", False, 0)])
    assert [o.external_id for o in result.confirmed] == ["101"]
    assert result.failed == (
        ItemFailure("999", "woocommerce_rest_product_invalid_id: Invalid ID.", permanent=True),
    )


async def test_apply_item_server_error_is_not_permanent(session: aiohttp.ClientSession) -> None:
    answer = {"update": [{"id": 101, "error": {"code": "db_error", "message": "x", "data": {"status": 500}}}]}
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=answer)
        result = await reconciler(session).apply([change("101", True, 1)])
    assert result.failed[0].permanent is False


async def test_apply_reports_a_write_the_store_overrode(session: aiohttp.ClientSession) -> None:
    # written as unmanaged, but the store manages stock and derives onbackorder: not what we meant
    answer = _answer([{"id": 101, "stock_status": "outofstock"}], **{"101": {"stock_status": "onbackorder"}})
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=answer)
        result = await reconciler(session).apply([change("101", False)])
    assert result.confirmed == ()
    [failure] = result.failed
    assert not failure.permanent and "onbackorder" in failure.reason


async def test_apply_item_missing_from_answer_is_retryable(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload={"update": []})
        result = await reconciler(session).apply([change("101", True, 1)])
    assert result.failed == (ItemFailure("101", "missing from the batch answer"),)


async def test_apply_sends_one_batch_and_never_splits_again(session: aiohttp.ClientSession) -> None:
    changes = [change(str(n), True, 1) for n in range(1, 101)]
    with aioresponses() as mocked:
        entries = [{"id": n, "manage_stock": True, "stock_quantity": 1} for n in range(1, 101)]
        mocked.post(f"{API}/products/batch", payload=_answer(entries))
        result = await reconciler(session).apply(changes)
        with pytest.raises(ValueError, match="max_write_batch"):
            await reconciler(session).apply([*changes, change("101", True, 1)])
    sizes = [len(call.kwargs["json"]["update"]) for _, call in calls(mocked, "POST")]
    assert sizes == [100]
    assert len(result.confirmed) == 100 and result.failed == ()


def test_the_write_unit_is_the_parent_product() -> None:
    caps = WooCommerceReconciler.capabilities
    units = [caps.unit_of(Change(i, Availability(True))) for i in ("12", "13", "12:34", "12:35", "40:1")]
    assert units == ["", "", "12", "12", "40"]


async def test_apply_whole_request_errors_fail_every_item(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", status=413, payload=fixture("error"))
        too_large = await reconciler(session).apply([change("101", True, 1)])
        mocked.post(f"{API}/products/batch", status=401, payload=fixture("unauthorized"))
        denied = await reconciler(session).apply([change("101", True, 1)])
        mocked.post(f"{API}/products/batch", status=503, repeat=True)
        down = await reconciler(session).apply([change("101", True, 1), change("102", True, 1)])
    assert too_large.failed[0].permanent and "more than 100 items" in too_large.failed[0].reason
    assert denied.failed[0].permanent and "cannot list" in denied.failed[0].reason
    assert [f.permanent for f in down.failed] == [False, False]
    for result in (too_large, denied, down):
        assert all(KEY not in f.reason and CS not in f.reason for f in result.failed)


async def test_apply_throttled_then_succeeds(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", status=429, headers={"Retry-After": "0"})
        entries = [{"id": 101, "manage_stock": True, "stock_quantity": 4}]
        mocked.post(f"{API}/products/batch", payload=_answer(entries))
        result = await reconciler(session).apply([change("101", True, 4)])
    assert len(calls(mocked, "POST")) == 2
    assert result.confirmed[0].quantity == 4


async def test_apply_malformed_external_id_fails_permanently_without_a_request(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        result = await reconciler(session).apply([change("POSTER-A2", True, 1), change("12:", True, 1)])
    assert calls(mocked, "POST") == []
    assert [f.permanent for f in result.failed] == [True, True]


# --- webhooks ------------------------------------------------------------------------------------


def _webhook_body() -> bytes:
    return json.dumps(fixture("webhook_variation_updated"), separators=(",", ":")).encode()


async def test_webhook_signature_accepts_valid_and_rejects_tampered(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    body = _webhook_body()
    assert r.verify_webhook({"x-wc-webhook-signature": signed(body)}, body)  # any header case
    assert not r.verify_webhook({"X-WC-Webhook-Signature": signed(body)}, body + b" ")
    assert not r.verify_webhook({"X-WC-Webhook-Signature": signed(body, "wrong")}, body)
    assert not r.verify_webhook({}, body)
    assert not r.verify_webhook({"X-WC-Webhook-Signature": "not base64!"}, body)


async def test_webhook_without_configured_secret_is_refused(session: aiohttp.ClientSession) -> None:
    no_secret = Secret("woo-shop", json.dumps({"consumer_key": KEY, "consumer_secret": CS}))
    body = _webhook_body()
    assert not reconciler(session, credential=no_secret).verify_webhook(
        {"X-WC-Webhook-Signature": signed(body)}, body
    )


async def test_creation_ping_is_accepted_and_carries_nothing(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert r.verify_webhook(headers, b"webhook_id=17")
    assert r.parse_webhook(headers, b"webhook_id=17") == []
    assert not r.verify_webhook(headers, b"webhook_id=17&x=1")


async def test_parse_variation_update_names_parent_and_variation(session: aiohttp.ClientSession) -> None:
    headers = {"X-WC-Webhook-Topic": "product.updated", "X-WC-Webhook-Resource": "product"}
    observed = reconciler(session).parse_webhook(headers, _webhook_body())
    assert observed == [Observed("200:201", True, 3, {"manage_stock": True, "backorders": "no"})]


async def test_parse_simple_product_update(session: aiohttp.ClientSession) -> None:
    body = json.dumps(fixture("full")[1]).encode()
    [observed] = reconciler(session).parse_webhook({"x-wc-webhook-topic": "product.updated"}, body)
    assert (observed.external_id, observed.available, observed.quantity) == ("102", False, None)


async def test_parse_ignores_other_topics(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    assert r.parse_webhook({"X-WC-Webhook-Topic": "product.deleted"}, b'{"id": 101}') == []
    assert r.parse_webhook({"X-WC-Webhook-Topic": "order.updated"}, b'{"id": 9}') == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"type": "simple", "stock_status": "instock"}', "id"),
        (b'{"id": 201, "type": "variation", "stock_status": "instock"}', "parent_id"),
        (b'{"id": 101, "type": "simple", "stock_status": "sold"}', "stock_status"),
    ],
)
async def test_parse_malformed_names_the_field(
    session: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    with pytest.raises(InputError) as info:
        reconciler(session).parse_webhook({"X-WC-Webhook-Topic": "product.updated"}, body)
    assert field in str(info.value)


async def test_apply_zero_count_marked_available_is_written_unsellable_and_confirmed(
    session: aiohttp.ClientSession,
) -> None:
    sent = [
        {
            "id": 101,
            "manage_stock": True,
            "stock_quantity": 0,
            "stock_status": "outofstock",
            "backorders": "no",
        }
    ]
    with aioresponses() as mocked:
        mocked.post(f"{API}/products/batch", payload=_answer(sent))
        result = await reconciler(session).apply([change("101", True, -3)])
    [(_, call)] = calls(mocked, "POST")
    assert call.kwargs["json"] == {"update": sent}  # never a negative count, never a sellable zero
    assert [(o.available, o.quantity) for o in result.confirmed] == [(False, 0)]


@pytest.mark.parametrize("external_id", ["²", "١٢", "012", "12:²", "12:034", " 12"])
async def test_non_canonical_ids_are_skipped_not_crashed_on(
    session: aiohttp.ClientSession, external_id: str
) -> None:
    # str.isdigit accepts these; int() raises on '²' and the others would come back as another id
    with aioresponses() as mocked:
        observed = await reconciler(session).observe([variant(external_id)])
        result = await reconciler(session).apply([change(external_id, True, 1)])
    assert calls(mocked, "GET") == [] and calls(mocked, "POST") == []
    assert observed == []
    assert [(f.external_id, f.permanent) for f in result.failed] == [(external_id, True)]


async def test_observe_ignores_a_garbled_total_pages_header(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(LIST, payload=fixture("minimal"), headers={"X-WP-TotalPages": "²"})
        mocked.get(LIST, payload=[], headers={"X-WP-TotalPages": "²"})
        observed = await reconciler(session).observe([variant("101")])
    assert [query(call)["page"] for _, call in calls(mocked, "GET")] == ["1", "2"]  # until an empty page
    assert [o.external_id for o in observed] == ["101"]


async def test_observe_unmanaged_in_stock_is_unlimited_and_huge_counts_are_per_item_problems(
    session: aiohttp.ClientSession,
) -> None:
    def product(pid: int, manage: str, quantity: str, status: str = "instock") -> str:
        return (
            f'{{"id": {pid}, "type": "simple", "manage_stock": {manage}, "stock_quantity": {quantity},'
            f' "stock_status": "{status}", "backorders": "no"}}'
        )

    raw = (
        "["
        + ", ".join(
            [
                product(104, "false", "null"),  # sells without a count: unlimited
                product(105, "false", "null", "outofstock"),
                product(106, "true", "1e999999999"),  # a JSON number: float inf
                product(107, "true", "9" * 5000),  # a JSON integer too long for int()
                product(108, "true", "3000000000"),
                product(109, "true", "4"),
            ]
        )
        + "]"
    )
    with aioresponses() as mocked:
        mocked.get(LIST, body=raw, content_type="application/json", headers={"X-WP-TotalPages": "1"})
        observed = await reconciler(session).observe([variant(str(n)) for n in range(104, 110)])
    by_id = {o.external_id: o for o in observed}
    assert by_id["104"].unlimited and by_id["104"].as_availability() == Availability(
        True, None, unlimited=True
    )
    assert not by_id["105"].unlimited and by_id["105"].available is False
    kept, problems = screen(observed)
    assert sorted(problems) == ["106", "107", "108"]
    assert all("beyond" in reason for reason in problems.values())
    assert [o.external_id for o in kept] == ["104", "105", "109"]
