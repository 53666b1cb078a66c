"""ShopifyReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, ItemFailure, Observed, StoreConfig, StoreRules, SyncedVariant
from daemon.store_values import screen
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import CostPointsPacer, LeakyBucketPacer, Pacer
from reconcilers.shopify import API_VERSION, ShopifyReconciler
from reconcilers.shopify_queries import OBSERVE_VARIANTS, SET_AVAILABLE
from reconcilers.transport import AuthError, RetryPolicy, Transport

FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
TOKEN = "shpat_test_token"
SECRET = "shopify-client-secret"
LOCATION = "gid://shopify/Location/77"
ENDPOINT = f"https://acme.myshopify.com/admin/api/{API_VERSION}/graphql.json"
CREDENTIAL = Secret("shopify-acme", json.dumps({"access_token": TOKEN, "client_secret": SECRET}))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    pacer: Pacer | None = None,
    credential: Secret = CREDENTIAL,
    rules: StoreRules | None = None,
    **settings: Any,
) -> ShopifyReconciler:
    settings = {"shop_domain": "acme", "location_id": LOCATION, **settings}
    store = StoreConfig(
        "s1", "shopify", "north_america", "shopify-acme", rules=rules or StoreRules(), settings=settings
    )
    transport = Transport(
        session,
        platform="shopify",
        store_id="s1",
        pacer=pacer or LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
    )
    return ShopifyReconciler(ReconcilerContext(store, transport, credential))


def variant(n: int, item: int | None = None) -> SyncedVariant:
    ref = {"inventory_item_id": f"gid://shopify/InventoryItem/{item}"} if item else None
    return SyncedVariant("s1", f"gid://shopify/ProductVariant/{n}", f"v{n}", ref)


def change(n: int, item: int, target: Availability, expected: Availability | None = None) -> Change:
    ref = {"inventory_item_id": f"gid://shopify/InventoryItem/{item}"}
    return Change(f"gid://shopify/ProductVariant/{n}", target, expected=expected, platform_ref=ref)


def sent(mocked: aioresponses) -> list[dict[str, Any]]:
    calls = mocked.requests[("POST", URL(ENDPOINT))]
    for call in calls:
        headers = call.kwargs["headers"]
        assert headers["X-Shopify-Access-Token"] == TOKEN
        assert headers["Content-Type"] == "application/json"
    return [call.kwargs["json"] for call in calls]


class CostRecordingPacer:
    """Lets everything through and remembers the cost of every request."""

    def __init__(self) -> None:
        self.costs: list[float] = []

    async def acquire(self, cost: float = 1.0) -> None:
        self.costs.append(cost)

    def feed(self, response: Any) -> None:
        return None

    def penalize(self, delay_s: float) -> None:
        return None

    def after_throttle(self, attempt: int) -> float | None:
        return None


# --- observe -------------------------------------------------------------------------------------


async def test_observe_sends_one_nodes_query_with_the_location(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("full"))
        observed = await reconciler(session).observe([variant(1001), variant(1002), variant(1003)])
    [body] = sent(mocked)
    assert body == {
        "query": OBSERVE_VARIANTS,
        "variables": {
            "ids": [f"gid://shopify/ProductVariant/{n}" for n in (1001, 1002, 1003)],
            "locationId": LOCATION,
        },
    }
    assert observed[0] == Observed(
        "gid://shopify/ProductVariant/1001",
        True,
        7,
        {"inventory_item_id": "gid://shopify/InventoryItem/2001", "inventory_policy": "DENY"},
    )
    assert len(observed) == 2  # 1003 answered null: not found in the store
    assert observed[1].external_id == "gid://shopify/ProductVariant/1002"
    # CONTINUE keeps selling at 0: a problem to report, never a count to write
    assert observed[1].available is None and "CONTINUE" in str(observed[1].problem)
    assert observed[1].platform_ref is not None and "cannot_enforce" in observed[1].platform_ref


async def test_observe_minimal_zero_and_untracked_shapes(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("minimal"))
        mocked.post(ENDPOINT, payload=fixture("zero"))
        mocked.post(ENDPOINT, payload=fixture("untracked"))
        shop = reconciler(session)
        minimal = await shop.observe([variant(1001)])
        zero = await shop.observe([variant(1001)])
        untracked = await shop.observe([variant(1001), variant(1002)])
    assert [(o.available, o.quantity) for o in minimal] == [(True, 3)]
    assert minimal[0].platform_ref == {"inventory_item_id": "gid://shopify/InventoryItem/2001"}
    assert [(o.available, o.quantity) for o in zero] == [(False, 0)]
    # untracked, and tracked but not stocked at our location: problems, never written
    assert [(o.available, o.quantity) for o in untracked] == [(None, None), (None, None)]
    assert "not tracked" in str(untracked[0].problem) and "not stocked" in str(untracked[1].problem)
    assert untracked[1].platform_ref is not None
    assert untracked[1].platform_ref["inventory_policy"] == "DENY"


async def test_observe_pages_by_the_cost_limited_read_batch(session: aiohttp.ClientSession) -> None:
    shop = reconciler(session)
    variants = [variant(n) for n in range(1, 452)]
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.post(ENDPOINT, payload={"data": {"nodes": []}})
        await shop.observe(variants + variants[:5])  # duplicates are read once
    sizes = [len(body["variables"]["ids"]) for body in sent(mocked)]
    assert sizes == [200, 200, 51] and shop.capabilities.max_read_batch == 200


async def test_throttled_answer_waits_feeds_the_pacer_and_retries(session: aiohttp.ClientSession) -> None:
    pacer = CostPointsPacer(2000, 1000)
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("throttled"))
        mocked.post(ENDPOINT, payload=fixture("zero"))
        observed = await reconciler(session, pacer=pacer).observe([variant(1001)])
    assert len(sent(mocked)) == 2 and observed[0].quantity == 0
    # the shop's own bucket replaced our defaults
    assert pacer.maximum == 1000.0 and pacer.restore_rate == 100.0


async def test_5xx_is_retried_then_succeeds(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, status=503, body="unavailable")
        mocked.post(ENDPOINT, payload=fixture("minimal"))
        observed = await reconciler(session).observe([variant(1001)])
    assert len(sent(mocked)) == 2 and observed[0].quantity == 3


async def test_auth_failure_raises_without_the_token(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, status=401, payload={"errors": "[API] Invalid API key or access token"})
        with pytest.raises(AuthError) as caught:
            await reconciler(session).observe([variant(1001)])
    assert TOKEN not in str(caught.value) and "401" in str(caught.value)


async def test_access_denied_in_a_200_is_an_auth_error(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("access_denied"))
        with pytest.raises(AuthError, match="read_inventory"):
            await reconciler(session).observe([variant(1001)])


# --- apply ---------------------------------------------------------------------------------------


async def test_apply_sends_absolute_values_with_compare_and_set(session: aiohttp.ClientSession) -> None:
    changes = [
        change(1001, 2001, Availability(False), expected=Availability(True, 7)),  # status mode
        change(1002, 2002, Availability(True), expected=None),  # never observed: no compare
    ]
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("set_ok"))
        result = await reconciler(session).apply(changes)
    [body] = sent(mocked)
    assert body["query"] == SET_AVAILABLE
    key = body["variables"].pop("idempotencyKey")
    assert uuid.UUID(key).version == 4
    assert body["variables"] == {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "gid://stocksync/Store/s1",
            "quantities": [
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/2001",
                    "locationId": LOCATION,
                    "quantity": 0,
                    "changeFromQuantity": 7,
                },
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/2002",
                    "locationId": LOCATION,
                    "quantity": 100,  # the store's POD quantity stands for "in stock"
                    "changeFromQuantity": None,
                },
            ],
        }
    }
    assert result.failed == ()
    assert [(o.external_id, o.available, o.quantity) for o in result.confirmed] == [
        ("gid://shopify/ProductVariant/1001", False, 0),
        ("gid://shopify/ProductVariant/1002", True, 100),
    ]


async def test_quantity_mode_and_in_stock_quantity_setting(session: aiohttp.ClientSession) -> None:
    changes = [
        change(1, 11, Availability(True, 42), Availability(True, 40)),
        change(2, 12, Availability(True)),
    ]
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload={"data": {"inventorySetQuantities": {"userErrors": []}}})
        result = await reconciler(session, in_stock_quantity=5).apply(changes)
    entries = sent(mocked)[0]["variables"]["input"]["quantities"]
    assert [(e["quantity"], e["changeFromQuantity"]) for e in entries] == [(42, 40), (5, None)]
    assert len(result.confirmed) == 2


async def test_apply_sends_one_mutation_of_up_to_250(session: aiohttp.ClientSession) -> None:
    changes = [change(n, 10_000 + n, Availability(True, 1), Availability(True, 0)) for n in range(1, 251)]
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload={"data": {"inventorySetQuantities": {"userErrors": []}}})
        result = await reconciler(session).apply(changes)
        with pytest.raises(ValueError, match="max_write_batch"):
            await reconciler(session).apply([*changes, change(999, 999, Availability(True, 1))])
    bodies = sent(mocked)
    assert [len(b["variables"]["input"]["quantities"]) for b in bodies] == [250]
    assert len(result.confirmed) == 250


async def test_query_cost_is_priced_from_what_the_shop_reports(session: aiohttp.ClientSession) -> None:
    pacer = CostRecordingPacer()
    answer = {"data": {"nodes": []}, "extensions": {"cost": {"requestedQueryCost": 21}}}
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=answer)
        mocked.post(ENDPOINT, payload=answer)
        shop = reconciler(session, pacer=pacer)
        await shop.observe([variant(n) for n in range(1, 11)])
        await shop.observe([variant(n) for n in range(1, 21)])
    # the worst-case estimate (41 for 10 ids) only until the shop said what such a query costs
    assert pacer.costs == [41.0, 42.0]


async def test_user_errors_map_back_to_their_items(session: aiohttp.ClientSession) -> None:
    changes = [
        change(1, 11, Availability(True, 5), Availability(True, 4)),
        change(2, 12, Availability(False, 0), Availability(True, 3)),
        change(3, 13, Availability(True, 2), Availability(False, 0)),
    ]
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload=fixture("error"))
        result = await reconciler(session).apply(changes)
    assert result.confirmed == ()
    by_id = {f.external_id: f for f in result.failed}
    # the batch is all-or-nothing: the innocent entry is retried, the refused ones are not
    assert by_id["gid://shopify/ProductVariant/1"].permanent is False
    assert by_id["gid://shopify/ProductVariant/1"].reason.startswith("not applied")
    stale = by_id["gid://shopify/ProductVariant/2"]
    assert stale.permanent and stale.reason.startswith("CHANGE_FROM_QUANTITY_STALE")
    assert by_id["gid://shopify/ProductVariant/3"].reason.startswith("ITEM_NOT_STOCKED_AT_LOCATION")


async def test_change_without_inventory_item_fails_alone(session: aiohttp.ClientSession) -> None:
    bare = Change("gid://shopify/ProductVariant/9", Availability(True, 1))
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, payload={"data": {"inventorySetQuantities": {"userErrors": []}}})
        result = await reconciler(session).apply([bare, change(1, 11, Availability(True, 1))])
    assert [o.external_id for o in result.confirmed] == ["gid://shopify/ProductVariant/1"]
    assert result.failed == (
        ItemFailure("gid://shopify/ProductVariant/9", "inventory item unknown: observe first", True),
    )
    assert len(sent(mocked)[0]["variables"]["input"]["quantities"]) == 1


async def test_5xx_retries_reuse_the_idempotency_key_then_fail_temporarily(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.post(ENDPOINT, status=502, body="bad gateway")
        result = await reconciler(session).apply([change(1, 11, Availability(True, 1))])
    keys = {b["variables"]["idempotencyKey"] for b in sent(mocked)}
    assert len(sent(mocked)) == 3 and len(keys) == 1
    assert [f.permanent for f in result.failed] == [False] and "502" in result.failed[0].reason


async def test_auth_failure_fails_every_item_permanently(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, status=403, payload={"errors": "Forbidden"})
        result = await reconciler(session).apply([change(1, 11, Availability(True, 1))])
    assert [f.permanent for f in result.failed] == [True] and TOKEN not in result.failed[0].reason


# --- webhooks ------------------------------------------------------------------------------------


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "x-shopify-hmac-sha256": digest,  # any case: headers are looked up case-insensitively
        "X-Shopify-Topic": "inventory_levels/update",
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
    }


async def test_webhook_verify_accepts_rejects_and_detects_tampering(session: aiohttp.ClientSession) -> None:
    shop = reconciler(session)
    body = (FIXTURES / "webhook_inventory_levels_update.json").read_bytes()
    assert shop.verify_webhook(signed(body), body)
    assert not shop.verify_webhook(signed(body, "wrong-secret"), body)
    assert not shop.verify_webhook(signed(body), body.replace(b'"available": 4', b'"available": 9'))
    assert not shop.verify_webhook({}, body)
    no_secret = reconciler(session, credential=Secret("c", json.dumps({"access_token": TOKEN})))
    assert not no_secret.verify_webhook(signed(body), body)


async def test_webhook_parse_names_the_inventory_item(session: aiohttp.ClientSession) -> None:
    shop = reconciler(session)
    body = (FIXTURES / "webhook_inventory_levels_update.json").read_bytes()
    ref = {"inventory_item_id": "gid://shopify/InventoryItem/2001"}  # no location: see parse_webhook
    assert shop.parse_webhook(signed(body), body) == [
        Observed("gid://shopify/InventoryItem/2001", True, 4, ref)
    ]
    untracked = json.dumps({"inventory_item_id": 2001, "location_id": 77, "available": None}).encode()
    [seen] = shop.parse_webhook(signed(untracked), untracked)
    assert (seen.available, seen.quantity) == (None, None) and "not tracked" in str(seen.problem)
    elsewhere = json.dumps({"inventory_item_id": 2001, "location_id": 78, "available": 0}).encode()
    assert shop.parse_webhook(signed(elsewhere), elsewhere) == []
    other_topic = {**signed(body), "X-Shopify-Topic": "products/update"}
    assert shop.parse_webhook(other_topic, body) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"location_id": 77, "available": 1}', "inventory_item_id"),
        (b'{"inventory_item_id": 1, "available": 1}', "location_id"),
        (b'{"inventory_item_id": 1, "location_id": 77, "available": "many"}', "available"),
    ],
)
async def test_webhook_parse_rejects_malformed(
    session: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        reconciler(session).parse_webhook(signed(body), body)
    assert caught.value.field == field


async def test_webhook_from_another_shop_is_refused(session: aiohttp.ClientSession) -> None:
    body = (FIXTURES / "webhook_inventory_levels_update.json").read_bytes()
    headers = {**signed(body), "X-Shopify-Shop-Domain": "other.myshopify.com"}
    with pytest.raises(InputError, match="another shop"):
        reconciler(session).parse_webhook(headers, body)


# --- configuration -------------------------------------------------------------------------------


async def test_base_url_and_location_forms(session: aiohttp.ClientSession) -> None:
    shop = reconciler(session, base_url="http://127.0.0.1:9/", location_id="77", shop_domain=None)
    with aioresponses() as mocked:
        mocked.post(
            f"http://127.0.0.1:9/admin/api/{API_VERSION}/graphql.json", payload={"data": {"nodes": []}}
        )
        assert await shop.observe([variant(1)]) == []
        [call] = next(iter(mocked.requests.values()))
    assert call.kwargs["json"]["variables"]["locationId"] == LOCATION


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"location_id": None}, "location_id"),
        ({"location_id": "gid://shopify/Location/abc"}, "location_id"),
        ({"shop_domain": None}, "shop_domain"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"in_stock_quantity": 0}, "in_stock_quantity"),
    ],
)
async def test_bad_settings_name_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        reconciler(session, **settings)
    assert caught.value.key.endswith(key)


async def test_bad_credential_never_shows_the_value(session: aiohttp.ClientSession) -> None:
    with pytest.raises(CredentialError) as caught:
        reconciler(session, credential=Secret("shopify-acme", json.dumps({"client_secret": "s3cr3t"})))
    assert "access_token" in str(caught.value) and "s3cr3t" not in str(caught.value)


async def test_observe_huge_counts_are_per_item_problems(session: aiohttp.ClientSession) -> None:
    def node(n: int, quantity: str) -> str:
        return (
            f'{{"id": "gid://shopify/ProductVariant/{n}", "inventoryItem": {{"id": "gid://shopify/InventoryItem/{n}",'
            f' "tracked": true, "inventoryLevel": {{"quantities": [{{"name": "available", "quantity": {quantity}}}]}}}}}}'
        )

    raw = (
        '{"data": {"nodes": ['
        + ", ".join([node(1, "1e999999999"), node(2, "9" * 5000), node(3, "3")])
        + "]}}"
    )
    with aioresponses() as mocked:
        mocked.post(ENDPOINT, body=raw, content_type="application/json")
        observed = await reconciler(session).observe([variant(1), variant(2), variant(3)])
    kept, problems = screen(observed)
    assert (
        sorted(problems) == ["gid://shopify/ProductVariant/1", "gid://shopify/ProductVariant/2"]
        and "beyond" in problems["gid://shopify/ProductVariant/1"]
    )
    assert [(o.available, o.quantity) for o in kept] == [(True, 3)]
