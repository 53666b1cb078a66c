"""BigCartelReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, FailureKind, StoreConfig, StoreMode, StoreRules, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.bigcartel import BigCartelReconciler
from reconcilers.interface import ReconcilerContext
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "bigcartel"
TOKEN, CLIENT_SECRET = "bigcartel-access-token-0123", "bigcartel-client-secret-4567"
CREDENTIAL = Secret("bc", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
AGENT = "stocksync tests (dev@example.invalid)"
BASE = "https://api.bigcartel.com/v1/accounts/4242"
MEDIA = "application/vnd.api+json"
HEADERS = {"Accept": MEDIA, "User-Agent": AGENT, "Authorization": f"Bearer {TOKEN}"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    mode: StoreMode = StoreMode.STATUS,
    credential: Secret = CREDENTIAL,
    **settings: Any,
) -> BigCartelReconciler:
    store = StoreConfig(
        "b1",
        "bigcartel",
        "europe",
        "bc",
        rules=StoreRules(mode=mode, pod_quantity=30),
        settings={"account_id": "4242", "user_agent": AGENT, **settings},
    )
    transport = quick_transport(session, "bigcartel", "b1")
    return BigCartelReconciler(ReconcilerContext(store, transport, credential))


def synced(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("b1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, str(url), call.kwargs) for (method, url), calls in mocked.requests.items() for call in calls
    ]


def change(external_id: str, target: Availability, ref: dict[str, Any] | None) -> Change:
    return Change(external_id, target, Availability(True, 5), ref)


async def test_a_few_products_are_read_one_get_each_with_the_json_api_headers(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234", payload=fixture("full"))
        seen = await reconciler(session).observe(synced("1234:101", "1234:112", "1234:133", "1234:999"))
        [(method, url, kwargs)] = sent(mocked)
    assert (method, url) == ("GET", f"{BASE}/products/1234")
    assert kwargs["headers"] == HEADERS  # JSON:API media type and an identifying User-Agent
    assert kwargs["data"] is None and kwargs["auth"] is None
    by_id = {o.external_id: o for o in seen}
    assert (by_id["1234:101"].available, by_id["1234:101"].quantity) == (True, 5)
    assert (by_id["1234:112"].available, by_id["1234:112"].quantity) == (False, 0)
    assert (by_id["1234:133"].available, by_id["1234:133"].quantity) == (True, 2)
    assert by_id["1234:101"].platform_ref == {"status": "active", "options": ["101", "112", "133"]}
    assert "1234:999" not in by_id  # an option the product no longer has is not found


async def test_many_products_are_read_by_offset_pages_up_to_meta_count(
    session: aiohttp.ClientSession,
) -> None:
    def page(ids: range, total: int) -> dict[str, Any]:
        docs = [
            {
                "type": "products",
                "id": str(i),
                "attributes": {"status": "active"},
                "relationships": {"options": {"data": [{"type": "product_options", "id": str(10 * i)}]}},
            }
            for i in ids
        ]
        options = [{"type": "product_options", "id": str(10 * i), "attributes": {"quantity": i}} for i in ids]
        return {"data": docs, "included": options, "meta": {"count": total}}

    with aioresponses() as mocked:
        # the server caps the page below what we asked: the offset follows what came back
        mocked.get(f"{BASE}/products?page%5Blimit%5D=100&page%5Boffset%5D=0", payload=page(range(1, 4), 5))
        mocked.get(f"{BASE}/products?page%5Blimit%5D=100&page%5Boffset%5D=3", payload=page(range(4, 6), 5))
        seen = await reconciler(session).observe(synced("1:10", "2:20", "4:40", "5:50", "9:90"))
        requests = sent(mocked)
    assert [kwargs["params"] for _, _, kwargs in requests] == [
        {"page[limit]": "100", "page[offset]": "0"},
        {"page[limit]": "100", "page[offset]": "3"},
    ]
    assert {o.external_id: o.quantity for o in seen} == {"1:10": 1, "2:20": 2, "4:40": 4, "5:50": 5}


async def test_a_list_that_ignores_the_offset_does_not_loop(session: aiohttp.ClientSession) -> None:
    product = fixture("minimal")
    same = {"data": [product["data"]] * 100, "included": product["included"]}  # no meta.count
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products?page%5Blimit%5D=100&page%5Boffset%5D=0", payload=same)
        mocked.get(f"{BASE}/products?page%5Blimit%5D=100&page%5Boffset%5D=100", payload=same)
        seen = await reconciler(session).observe(synced("55:501", "1:1", "2:2", "3:3"))
        assert len(sent(mocked)) == 2  # the repeated page stops the walk
    assert [o.external_id for o in seen] == ["55:501"]


async def test_a_product_gone_is_not_found_not_an_error(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234", status=404, payload={"errors": [{"status": "404"}]})
        assert await reconciler(session).observe(synced("1234:101")) == []


@pytest.mark.parametrize(
    ("name", "external_id", "available", "quantity", "unlimited"),
    [
        ("minimal", "55:501", True, 2, False),
        ("zero", "56:601", False, 0, False),  # sold_out product, option at 0
        ("untracked", "57:701", True, None, True),  # no quantity kept: sells without a count
    ],
)
async def test_each_documented_option_shape(
    session: aiohttp.ClientSession,
    name: str,
    external_id: str,
    available: bool,
    quantity: int | None,
    unlimited: bool,
) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/{external_id.split(':')[0]}", payload=fixture(name))
        [seen] = await reconciler(session).observe(synced(external_id))
    assert (seen.available, seen.quantity, seen.unlimited, seen.problem) == (
        available,
        quantity,
        unlimited,
        None,
    )


async def test_a_sold_out_product_reads_unavailable_and_hidden_ones_are_problems(
    session: aiohttp.ClientSession,
) -> None:
    sold_out, hidden = fixture("full"), fixture("full")
    sold_out["data"]["attributes"]["status"] = "sold_out"
    hidden["data"]["attributes"]["status"] = "hidden"
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234", payload=sold_out)
        mocked.get(f"{BASE}/products/1234", payload=hidden)
        [marked] = await reconciler(session).observe(synced("1234:101"))
        [withheld] = await reconciler(session).observe(synced("1234:101"))
    assert (marked.available, marked.quantity) == (False, 5)  # the seller's sold_out wins over the count
    assert withheld.problem is not None and "hidden" in withheld.problem
    assert withheld.platform_ref is not None and CANNOT_ENFORCE in withheld.platform_ref


async def test_a_count_beyond_the_database_is_a_per_item_problem(session: aiohttp.ClientSession) -> None:
    document = fixture("full")
    document["included"][0]["attributes"]["quantity"] = 3_000_000_000
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234", payload=document)
        seen = {o.external_id: o for o in await reconciler(session).observe(synced("1234:101", "1234:133"))}
    assert seen["1234:101"].problem is not None and "3000000000" in seen["1234:101"].problem
    assert seen["1234:133"].quantity == 2


async def test_a_write_patches_the_product_listing_every_option(session: aiohttp.ClientSession) -> None:
    ref = {"status": "active", "options": ["101", "112", "133"]}
    answered = fixture("full")
    answered["included"][0]["attributes"]["quantity"] = 30
    answered["included"][1]["attributes"]["quantity"] = 0
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1234", payload=answered)
        result = await reconciler(session).apply(
            [change("1234:101", Availability(True), ref), change("1234:112", Availability(False), ref)]
        )
        [(method, url, kwargs)] = sent(mocked)
    assert (method, url) == ("PATCH", f"{BASE}/products/1234")
    assert kwargs["headers"] == {**HEADERS, "Content-Type": MEDIA}
    assert json.loads(kwargs["data"]) == {
        "data": {
            "type": "products",
            "id": "1234",
            "relationships": {
                "options": {
                    "data": [
                        {"type": "product_options", "id": "101", "attributes": {"quantity": 30}},
                        {"type": "product_options", "id": "112", "attributes": {"quantity": 0}},
                        {"type": "product_options", "id": "133"},  # listed, untouched: never dropped
                    ]
                }
            },
        }
    }
    assert {(o.external_id, o.available, o.quantity) for o in result.confirmed} == {
        ("1234:101", True, 30),
        ("1234:112", False, 0),
    }
    assert result.failed == ()


async def test_quantity_mode_writes_the_count_and_revives_a_sold_out_product(
    session: aiohttp.ClientSession,
) -> None:
    ref = {"status": "sold_out", "options": ["601"]}
    answered = fixture("zero")
    answered["data"]["attributes"]["status"] = "active"
    answered["included"][0]["attributes"]["quantity"] = 7
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/56", payload=answered)
        result = await reconciler(session, StoreMode.QUANTITY).apply(
            [change("56:601", Availability(True, 7), ref)]
        )
        [(_, _, kwargs)] = sent(mocked)
    body = json.loads(kwargs["data"])["data"]
    assert body["attributes"] == {"status": "active"}
    assert body["relationships"]["options"]["data"] == [
        {"type": "product_options", "id": "601", "attributes": {"quantity": 7}}
    ]
    assert [(o.available, o.quantity) for o in result.confirmed] == [(True, 7)]


async def test_write_errors_map_to_permanent_auth_and_unconfirmed(session: aiohttp.ClientSession) -> None:
    ref = {"status": "active", "options": ["101"]}
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1234", status=400, payload=fixture("error"))
        mocked.patch(f"{BASE}/products/1234", status=401, payload={"errors": [{"status": "401"}]})
        mocked.patch(f"{BASE}/products/1234", payload=fixture("full"))  # shows 5, not what we wrote
        refused = await reconciler(session).apply([change("1234:101", Availability(False), ref)])
        unauthorized = await reconciler(session).apply([change("1234:101", Availability(False), ref)])
        unconfirmed = await reconciler(session).apply([change("1234:101", Availability(False), ref)])
    assert [f.kind for f in refused.failed] == [FailureKind.PERMANENT]
    assert "whole number" in refused.failed[0].reason
    assert [f.kind for f in unauthorized.failed] == [FailureKind.AUTH]
    assert [f.kind for f in unconfirmed.failed] == [FailureKind.TEMPORARY]


async def test_a_write_without_the_products_option_list_sends_nothing(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        result = await reconciler(session).apply(
            [change("1234:101", Availability(False), None), change("bad", Availability(False), None)]
        )
        assert sent(mocked) == []
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {"1234:101": FailureKind.TEMPORARY, "bad": FailureKind.PERMANENT}


async def test_basic_auth_for_a_sellers_own_shop(session: aiohttp.ClientSession) -> None:
    credential = Secret("bc", json.dumps({"login": "myshop", "password": "hunter2-long"}))
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234", payload=fixture("full"))
        await reconciler(session, credential=credential).observe(synced("1234:101"))
        [(_, _, kwargs)] = sent(mocked)
    assert "Authorization" not in kwargs["headers"]
    assert kwargs["auth"] == aiohttp.BasicAuth("myshop", "hunter2-long")


def test_settings_and_credentials_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="user_agent"):
        reconciler(session, user_agent=" ")
    with pytest.raises(ConfigError, match="account_id"):
        reconciler(session, account_id="acct/1")
    with pytest.raises(CredentialError, match="access_token"):
        reconciler(session, credential=Secret("bc", json.dumps({"login": "myshop"})))


def signed(body: bytes, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"X-Webhook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_webhooks_are_verified_and_product_events_reread_the_product(session: aiohttp.ClientSession) -> None:
    bc = reconciler(session)
    product = fixture("full")["data"]
    body = json.dumps({"account_id": "4242", "type": "product.updated", "payload": product}).encode()
    assert bc.verify_webhook(signed(body), body) is True
    assert bc.verify_webhook(signed(body, "another-secret"), body) is False
    assert bc.verify_webhook(signed(body), body + b" ") is False
    assert bc.verify_webhook({}, body) is False
    notified = bc.parse_webhook(signed(body), body)
    assert list(notified) == [] and notified.reread_products == {"1234"}  # values are read back
    deleted = json.dumps({"account_id": 4242, "type": "product.deleted", "payload": {"id": 1234}}).encode()
    assert bc.parse_webhook({}, deleted).reread_products == {"1234"}
    order = json.dumps({"account_id": "4242", "type": "order.created", "payload": {"id": "A-1"}}).encode()
    assert not bc.parse_webhook({}, order).reread_products


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (b'{"account_id": "4242"}', "type"),
        (b'{"account_id": "999", "type": "product.updated", "payload": {"id": "1"}}', "account_id"),
        (b'{"account_id": "4242", "type": "product.updated", "payload": {"id": "x/1"}}', "payload.id"),
        (b'{"account_id": "4242", "type": "product.updated"}', "payload.id"),
    ],
)
def test_bad_webhook_bodies_name_the_field(session: aiohttp.ClientSession, body: bytes, field: str) -> None:
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        reconciler(session).parse_webhook({}, body)
