"""NuvemshopReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import Availability, Change, FailureKind, StoreConfig, StoreMode, StoreRules, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.nuvemshop import NuvemshopReconciler
from reconcilers.transport import AuthError
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "nuvemshop"
TOKEN, APP_SECRET = "nuvem-access-token-0123", "nuvem-app-secret-4567"
CREDENTIAL = Secret("nuvem", json.dumps({"access_token": TOKEN, "client_secret": APP_SECRET}))
AGENT = "stocksync tests (dev@example.invalid)"
BASE = "https://api.tiendanube.com/v1/123456"
HEADERS = {"Authentication": f"bearer {TOKEN}", "User-Agent": AGENT}
LOCATION = "01GQ2ZHK064BQRHGDB7CCV0Y6N"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, mode: StoreMode = StoreMode.STATUS, **settings: Any
) -> NuvemshopReconciler:
    store = StoreConfig(
        "n1",
        "nuvemshop",
        "latam",
        "nuvem",
        rules=StoreRules(mode=mode, pod_quantity=30),
        settings={"store_id": "123456", "user_agent": AGENT, **settings},
    )
    transport = quick_transport(session, "nuvemshop", "n1")
    return NuvemshopReconciler(ReconcilerContext(store, transport, CREDENTIAL))


def synced(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("n1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, str(url), call.kwargs) for (method, url), calls in mocked.requests.items() for call in calls
    ]


async def test_a_few_products_are_read_one_get_each_with_the_documented_headers(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234?fields=id,variants", payload=fixture("full")[0])
        seen = await reconciler(session).observe(synced("1234:101", "1234:112", "1234:133", "1234:999"))
        [(method, url, kwargs)] = sent(mocked)
    assert (method, url) == ("GET", f"{BASE}/products/1234?fields=id,variants")
    assert kwargs["headers"] == HEADERS  # Authentication, not Authorization; the User-Agent is mandatory
    by_id = {o.external_id: o for o in seen}
    assert (by_id["1234:101"].available, by_id["1234:101"].quantity) == (True, 5)
    assert (by_id["1234:112"].available, by_id["1234:112"].quantity) == (False, 0)
    assert by_id["1234:133"].unlimited and by_id["1234:133"].available  # stock null: infinite
    assert "1234:999" not in by_id  # a variant the product no longer has is not found


async def test_many_products_are_read_from_the_lowest_id_following_link_until_all_are_seen(
    session: aiohttp.ClientSession,
) -> None:
    products = [
        {"id": i, "variants": [{"id": 10 * i, "stock_management": True, "stock": i}]} for i in range(5, 10)
    ]
    first = f"{BASE}/products?since_id=4&per_page=200&fields=id,variants"
    second = f"{BASE}/products?since_id=4&per_page=200&fields=id,variants&page=2"
    with aioresponses() as mocked:
        mocked.get(first, payload=products[:3], headers={"Link": f'<{second}>; rel="next"'})
        mocked.get(second, payload=products[3:], headers={"Link": f'<{second}&x=3>; rel="next"'})
        seen = await reconciler(session).observe(synced(*(f"{i}:{10 * i}" for i in (5, 6, 7, 9))))
        urls = sorted((url for _, url, _ in sent(mocked)), key=lambda u: "page=2" in u)
    # stops once every wanted product was seen, although a next page exists
    assert [_query(u) for u in urls] == [_query(first), _query(second)]
    assert {o.external_id: o.quantity for o in seen} == {"5:50": 5, "6:60": 6, "7:70": 7, "9:90": 9}


def _query(url: str) -> tuple[str, list[tuple[str, str]]]:
    parsed = URL(url)
    return parsed.path, sorted(parsed.query.items())


async def test_a_product_gone_is_not_found_not_an_error(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234?fields=id,variants", status=404, payload={"code": 404})
        assert await reconciler(session).observe(synced("1234:101")) == []


@pytest.mark.parametrize(
    ("name", "available", "quantity", "unlimited"),
    [("minimal", True, 2, False), ("zero", False, 0, False), ("untracked", True, None, True)],
)
async def test_each_documented_variant_shape(
    session: aiohttp.ClientSession, name: str, available: bool, quantity: int | None, unlimited: bool
) -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234?fields=id,variants", payload=fixture(name))
        [seen] = await reconciler(session).observe(synced("1234:101"))
    assert (seen.available, seen.quantity, seen.unlimited, seen.problem) == (
        available,
        quantity,
        unlimited,
        None,
    )


async def test_stock_at_several_locations_needs_a_location_setting(session: aiohttp.ClientSession) -> None:
    url = f"{BASE}/products/1240?fields=id,variants"
    with aioresponses() as mocked:
        mocked.get(url, payload=fixture("full")[1])
        mocked.get(url, payload=fixture("full")[1])
        [unset] = await reconciler(session).observe(synced("1240:201"))
        [at_location] = await reconciler(session, location_id=LOCATION).observe(synced("1240:201"))
    assert unset.problem is not None and "settings.location_id" in unset.problem
    assert (at_location.available, at_location.quantity) == (True, 4)  # that location's level, not the total


async def test_a_count_the_state_cannot_hold_or_read_is_a_problem(session: aiohttp.ClientSession) -> None:
    product = {"id": 1, "variants": [{"id": 2, "stock": 3_000_000_000}, {"id": 3, "stock": "lots"}]}
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1?fields=id,variants", payload=product)
        seen = await reconciler(session).observe(synced("1:2", "1:3"))
    assert all(o.problem for o in seen) and len(seen) == 2


async def test_writes_patch_one_product_s_variants_and_confirm_from_the_collection(
    session: aiohttp.ClientSession,
) -> None:
    url = f"{BASE}/products/1234/variants"
    answer = [
        {"id": 101, "stock_management": True, "stock": 0},
        {"id": 112, "stock_management": True, "stock": 30},
    ]
    with aioresponses() as mocked:
        mocked.patch(url, payload=answer)
        result = await reconciler(session).apply(
            [Change("1234:101", Availability(False)), Change("1234:112", Availability(True))]
        )
        [(method, _, kwargs)] = sent(mocked)
    assert method == "PATCH" and kwargs["json"] == [{"id": 101, "stock": 0}, {"id": 112, "stock": 30}]
    assert [(o.external_id, o.quantity) for o in result.confirmed] == [("1234:101", 0), ("1234:112", 30)]


async def test_quantity_mode_writes_the_count_at_the_configured_location(
    session: aiohttp.ClientSession,
) -> None:
    answer = [{"id": 201, "stock": 12, "inventory_levels": [{"location_id": LOCATION, "stock": 9}]}]
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1240/variants", payload=answer)
        rec = reconciler(session, StoreMode.QUANTITY, location_id=LOCATION)
        result = await rec.apply([Change("1240:201", Availability(True, 9))])
        [(_, _, kwargs)] = sent(mocked)
    assert kwargs["json"] == [{"id": 201, "inventory_levels": [{"location_id": LOCATION, "stock": 9}]}]
    assert [o.quantity for o in result.confirmed] == [9]


async def test_a_refused_patch_fails_its_product_s_items_permanently(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1234/variants", status=422, payload=fixture("error"))
        result = await reconciler(session).apply([Change("1234:101", Availability(False))])
    [failure] = result.failed
    assert failure.kind is FailureKind.PERMANENT and "422" in failure.reason


async def test_an_answer_showing_another_stock_is_not_a_confirmation(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1234/variants", payload=[{"id": 101, "stock": 4}])
        result = await reconciler(session).apply([Change("1234:101", Availability(False))])
    assert result.confirmed == () and [f.kind for f in result.failed] == [FailureKind.TEMPORARY]


async def test_a_revoked_token_is_an_auth_failure(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.patch(f"{BASE}/products/1234/variants", status=401, payload={"code": 401})
        result = await reconciler(session).apply([Change("1234:101", Availability(False))])
        mocked.get(f"{BASE}/products/1234?fields=id,variants", status=401, payload={"code": 401})
        with pytest.raises(AuthError):
            await reconciler(session).observe(synced("1234:101"))
    assert [f.kind for f in result.failed] == [FailureKind.AUTH]


async def test_a_full_bucket_429_is_waited_out_and_retried(session: aiohttp.ClientSession) -> None:
    url = f"{BASE}/products/1234?fields=id,variants"
    limited = {"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "20000"}
    with aioresponses() as mocked:
        mocked.get(url, status=429, payload={"code": 429}, headers=limited)
        mocked.get(url, payload=fixture("minimal"))
        [seen] = await reconciler(session).observe(synced("1234:101"))
    assert seen.quantity == 2


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Linkedstore-HMAC-SHA256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


async def test_product_webhooks_are_verified_and_name_the_product_to_read_back(
    session: aiohttp.ClientSession,
) -> None:
    rec = reconciler(session)
    body = json.dumps({"store_id": 123456, "event": "product/updated", "id": 1234}).encode()
    assert rec.verify_webhook(signed(body), body)
    assert not rec.verify_webhook(signed(body, "another-app-secret"), body)
    assert not rec.verify_webhook(signed(body), body + b" ")
    notified = rec.parse_webhook(signed(body), body)
    assert list(notified) == [] and notified.reread_products == {"1234"}
    assert rec.capabilities.product_of("1234:101") == "1234"
    other = json.dumps({"store_id": 123456, "event": "order/paid", "id": 9}).encode()
    assert not rec.parse_webhook(signed(other), other).reread_products


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"[]", "body"), (b'{"event": "product/updated", "id": "12a"}', "id"), (b'{"id": 1}', "event")],
)
async def test_a_malformed_webhook_names_the_field(
    session: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    with pytest.raises(InputError, match=field):
        reconciler(session).parse_webhook(signed(body), body)


async def test_settings_the_api_requires_are_checked_at_build(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="user_agent"):
        reconciler(session, user_agent="")
    with pytest.raises(ConfigError, match="store_id"):
        reconciler(session, store_id="shop-1")
    with pytest.raises(ConfigError, match="https"):
        reconciler(session, base_url="http://api.tiendanube.com/v1")


async def test_requests_carry_no_token_in_the_url(session: aiohttp.ClientSession) -> None:
    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        assert TOKEN not in str(url)
        return CallbackResult(payload=fixture("minimal"))

    with aioresponses() as mocked:
        mocked.get(f"{BASE}/products/1234?fields=id,variants", callback=answer)
        assert len(await reconciler(session).observe(synced("1234:101"))) == 1
