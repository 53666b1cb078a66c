"""StorenvyReconciler at the wire (aioresponses): exact requests and every answer shape the docs show."""

from __future__ import annotations

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
from daemon.model import Availability, Change, FailureKind, StoreConfig, StoreRules, SyncedVariant
from reconcilers.capabilities import StockModel, WriteUnit
from reconcilers.interface import ReconcilerContext
from reconcilers.storenvy import StorenvyReconciler
from reconcilers.transport import TemporaryError
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "storenvy"
API_KEY, TOKEN = "store-api-key-29fjso3i3ifo", "oauth-token-aa11bb22cc33"
API = "https://api.storenvy.com/v1"
KEYED = Secret("storenvy-shop", json.dumps({"api_key": API_KEY}))
OAUTH = Secret("storenvy-app", json.dumps({"access_token": TOKEN}))
HEADERS = {"Accept": "application/json", "API-KEY": API_KEY}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    credential: Secret = KEYED,
    rules: StoreRules | None = None,
    **settings: Any,
) -> StorenvyReconciler:
    store = StoreConfig(
        "s1", "storenvy", "europe", credential.name, rules=rules or StoreRules(), settings=settings
    )
    transport = quick_transport(session, "storenvy", "s1")
    return StorenvyReconciler(ReconcilerContext(store, transport, credential))


def variant(external_id: str) -> SyncedVariant:
    return SyncedVariant("s1", external_id, f"v-{external_id}")


def change(external_id: str, available: bool, quantity: int | None = None, **ref: Any) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref=ref or None)


def calls(mocked: aioresponses, method: str) -> list[tuple[str, RequestCall]]:
    return [
        (str(url), call)
        for (verb, url), recorded in mocked.requests.items()
        if verb == method
        for call in recorded
    ]


def variants_url(product: int, query: str = "") -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(API)}/products/{product}/variants\.json{re.escape(query)}$")


# --- observe -------------------------------------------------------------------------------------


async def test_observe_reads_each_product_once_and_follows_next_url(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/101/variants.json", payload=fixture("full"))
        # next_url as the docs show it: no .json suffix, the credential in its query
        mocked.get(f"{API}/products/101/variants?after_id=503", payload=fixture("full_page2"))
        seen = await reconciler(session).observe(
            [variant("101:501"), variant("101:502"), variant("101:503"), variant("101:553")]
        )
        gets = calls(mocked, "GET")
    # the key from next_url is dropped: ours goes in the header, never in a URL
    assert [url for url, _ in gets] == [
        f"{API}/products/101/variants.json",
        f"{API}/products/101/variants?after_id=503",
    ]
    assert all(call.kwargs["headers"] == HEADERS for _, call in gets)
    assert all(not call.kwargs["params"] for _, call in gets[:1])
    assert gets[1][1].kwargs["params"] == {"after_id": "503"}
    by_id = {o.external_id: o for o in seen}
    assert (by_id["101:501"].available, by_id["101:501"].quantity) == (True, 7)
    assert (by_id["101:502"].available, by_id["101:502"].quantity) == (False, 0)
    # a count with in_stock false does not sell
    assert (by_id["101:503"].available, by_id["101:503"].quantity) == (False, 4)
    assert (by_id["101:553"].available, by_id["101:553"].quantity) == (True, 2)


async def test_observe_minimal_and_zero_answers(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/105/variants.json", payload=fixture("minimal"))
        mocked.get(f"{API}/products/102/variants.json", payload=fixture("zero"))
        seen = await reconciler(session).observe([variant("105:601"), variant("102:701"), variant("102:999")])
    by_id = {o.external_id: o for o in seen}
    assert set(by_id) == {"105:601", "102:701"}  # 102:999 is not in the store
    assert (by_id["105:601"].available, by_id["105:601"].quantity) == (True, 3)
    assert (by_id["102:701"].available, by_id["102:701"].quantity) == (False, 0)


async def test_observe_untracked_typo_and_text_counts(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/103/variants.json", payload=fixture("untracked"))
        seen = await reconciler(session).observe([variant(f"103:{v}") for v in range(801, 808)])
    by_id = {o.external_id: o for o in seen}
    assert by_id["103:801"].unlimited and by_id["103:801"].available is True
    assert by_id["103:801"].quantity is None
    assert (by_id["103:802"].available, by_id["103:802"].unlimited) == (False, False)
    assert by_id["103:803"].problem is not None and "3000000000" in by_id["103:803"].problem
    assert by_id["103:804"].problem is not None and by_id["103:804"].quantity is None
    assert (by_id["103:805"].available, by_id["103:805"].quantity) == (True, 2)  # no flag: the count decides
    assert by_id["103:806"].problem is not None and "in_stock" in by_id["103:806"].problem
    assert by_id["103:807"].problem is not None and by_id["103:807"].available is None


async def test_observe_a_deleted_product_finds_nothing_and_skips_bad_ids(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/104/variants.json", status=404, payload={"meta": {"code": 404}})
        seen = await reconciler(session).observe([variant("104:1"), variant("nonsense"), variant("07:1")])
        assert len(calls(mocked, "GET")) == 1
    assert seen == []


async def test_next_url_on_another_host_is_refused(session: aiohttp.ClientSession) -> None:
    answer = fixture("full")
    answer["pagination"]["next_url"] = "https://evil.example/v1/products/101/variants?after_id=503"
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/101/variants.json", payload=answer)
        with pytest.raises(TemporaryError, match="next_url"):
            await reconciler(session).observe([variant("101:501")])
        assert len(calls(mocked, "GET")) == 1  # our key never went to the other host


async def test_oauth_token_travels_as_the_documented_query_parameter(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/102/variants.json?access_token={TOKEN}", payload=fixture("zero"))
        mocked.put(f"{API}/products/102/variants/701.json?access_token={TOKEN}", payload={"data": None})
        r = reconciler(session, OAUTH)
        await r.observe([variant("102:701")])
        await r.apply([change("102:701", True, 2)])
        for _, call in [*calls(mocked, "GET"), *calls(mocked, "PUT")]:
            assert call.kwargs["params"] == {"access_token": TOKEN}
            assert "API-KEY" not in call.kwargs["headers"]


async def test_an_answer_without_a_data_list_is_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{API}/products/101/variants.json", payload={"meta": {"code": 200}})
        with pytest.raises(TemporaryError, match="data list"):
            await reconciler(session).observe([variant("101:501")])


# --- apply ---------------------------------------------------------------------------------------


async def test_apply_puts_one_absolute_body_per_variant(session: aiohttp.ClientSession) -> None:
    answer = {
        "data": {"id": 501, "product_id": 101, "full_quantity": 5, "in_stock": True},
        "meta": {"code": 200},
    }
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101/variants/501.json", payload=answer)
        mocked.put(f"{API}/products/101/variants/502.json", payload={"data": {}, "meta": {"code": 200}})
        result = await reconciler(session).apply([change("101:501", True, 5), change("101:502", False, 3)])
        puts = calls(mocked, "PUT")
    assert [(url, call.kwargs["json"]) for url, call in puts] == [
        (f"{API}/products/101/variants/501.json", {"full_quantity": 5, "in_stock": True}),
        (f"{API}/products/101/variants/502.json", {"full_quantity": 0, "in_stock": False}),
    ]
    assert all(call.kwargs["headers"] == HEADERS for _, call in puts)
    confirmed = {o.external_id: (o.available, o.quantity) for o in result.confirmed}
    assert confirmed == {"101:501": (True, 5), "101:502": (False, 0)}
    assert not result.failed


async def test_status_mode_writes_the_in_stock_quantity_and_leaves_uncounted_alone(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101/variants/501.json", payload={"data": None})
        r = reconciler(session, in_stock_quantity=9)
        result = await r.apply([change("101:501", True), change("103:801", True, uncounted=True)])
        puts = calls(mocked, "PUT")
    assert [call.kwargs["json"] for _, call in puts] == [{"full_quantity": 9, "in_stock": True}]
    by_id = {o.external_id: o for o in result.confirmed}
    assert by_id["101:501"].quantity == 9 and by_id["103:801"].unlimited


async def test_per_item_errors_are_mapped(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101/variants/501.json", status=422, payload=fixture("error"))
        mocked.put(f"{API}/products/101/variants/502.json", status=401, payload={"meta": {"code": 401}})
        for _ in range(3):
            mocked.put(f"{API}/products/101/variants/503.json", status=503, payload={})
        r = reconciler(session)
        result = await r.apply([change("101:501", True, 1), change("101:503", True, 1), change("x", True, 1)])
        refused = await r.apply([change("101:502", True, 1)])  # a rejected key stops the batch
    kinds = {f.external_id: f.kind for f in [*result.failed, *refused.failed]}
    assert kinds == {
        "101:501": FailureKind.PERMANENT,
        "101:502": FailureKind.AUTH,
        "101:503": FailureKind.TEMPORARY,
        "x": FailureKind.PERMANENT,
    }
    assert "greater than or equal" in next(f.reason for f in result.failed if f.external_id == "101:501")
    assert all(API_KEY not in f.reason for f in result.failed)


async def test_a_429_waits_retry_after_and_retries(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.put(f"{API}/products/101/variants/501.json", status=429, headers={"Retry-After": "0"})
        mocked.put(f"{API}/products/101/variants/501.json", payload={"data": None})
        result = await reconciler(session).apply([change("101:501", True, 1)])
        assert len(calls(mocked, "PUT")) == 2
    assert [o.quantity for o in result.confirmed] == [1]


# --- construction, capabilities ------------------------------------------------------------------


def test_capabilities() -> None:
    caps = StorenvyReconciler.capabilities
    assert caps.stock_model is StockModel.BOTH and caps.write_unit is WriteUnit.ITEM
    assert caps.max_read_batch == 50 and not caps.compare_and_set
    assert caps.unit_key("101:501") == "101:501" and caps.product_of("101:501") == "101"
    assert caps.webhook_scheme is not None and "unsigned" in caps.webhook_scheme


@pytest.mark.parametrize(
    "secret",
    [
        Secret("c", "{}"),
        Secret("c", json.dumps({"api_key": API_KEY, "access_token": TOKEN})),
        Secret("c", "plain-text"),
    ],
)
async def test_the_credential_needs_exactly_one_key(session: aiohttp.ClientSession, secret: Secret) -> None:
    with pytest.raises(CredentialError) as caught:
        reconciler(session, secret)
    assert API_KEY not in str(caught.value) and TOKEN not in str(caught.value)


async def test_a_plain_http_base_url_is_refused(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError):
        reconciler(session, base_url="http://api.storenvy.com/v1")


# --- webhooks ------------------------------------------------------------------------------------


async def test_a_webhook_only_asks_to_reread_the_products_it_names(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    body = json.dumps(fixture("webhook_product")).encode()
    assert r.verify_webhook({}, body) is True  # nothing to verify: Storenvy signs nothing
    notified = r.parse_webhook({}, body)
    assert list(notified) == [] and notified.reread_products == {"101"} and not notified.reread
    assert r.parse_webhook({}, b'{"product_id": "102"}').reread_products == {"102"}
    assert r.parse_webhook({}, b'{"event": "order/created", "data": {"id": 9}}').reread_products == set()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1]", "body"),
        (b'{"data": 3}', "data"),
        (b'{"product_id": "1x"}', "product_id"),
        (b'{"data": {"id": -1, "variants": []}}', "data.id"),
        (b'{"data": {"variants": {}}}', "data.variants"),
        (json.dumps({"data": {"variants": [{"product_id": n} for n in range(1, 60)]}}).encode(), "body"),
    ],
)
async def test_bad_webhook_bodies_name_the_field(
    session: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        reconciler(session).parse_webhook({}, body)
    assert field in str(caught.value)
