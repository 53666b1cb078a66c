"""BaseReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import Availability, Change, FailureKind, StoreConfig, StoreRules, SyncedVariant
from reconcilers import base as base_module
from reconcilers import tokens
from reconcilers.base import BaseReconciler
from reconcilers.base_items import quota_wait
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.capabilities import StockModel, WriteUnit
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import AuthError, RetryPolicy, TemporaryError, Transport

FIXTURES = Path(__file__).parent / "fixtures" / "base"
API = "https://api.thebase.in/1"
TOKEN_URL = f"{API}/oauth/token"
EDIT = f"{API}/items/edit_stock"
KEYS = {
    "client_id": "base-client-id",
    "client_secret": "base-client-secret-0123",
    "redirect_uri": "https://example.test/callback",
    "refresh_token": "base-refresh-token-0123",
    "access_token": "base-access-token-0123",
}
LISTING = f"{API}/items?limit=100&offset={{}}&order=created&sort=asc"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def fresh_memory() -> Iterator[None]:
    tokens.KEPT.clear()
    base_module.LISTING_PAGES.clear()
    yield
    tokens.KEPT.clear()
    base_module.LISTING_PAGES.clear()


def reconciler(
    session: aiohttp.ClientSession, keys: dict[str, str] | None = None, **settings: Any
) -> BaseReconciler:
    store = StoreConfig("b1", "base", "japan", "base", rules=StoreRules(pod_quantity=25), settings=settings)
    transport = Transport(
        session,
        platform="base",
        store_id="b1",
        pacer=LeakyBucketPacer(1000, 1000, remaining_header=None),
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, max_retry_after=5),
    )
    return BaseReconciler(ReconcilerContext(store, transport, Secret("base", json.dumps(keys or KEYS))))


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("b1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return mocked.requests.get((method, URL(url)), [])


def change(external_id: str, available: bool, quantity: int | None = None) -> Change:
    return Change(
        external_id, Availability(available, quantity), None, {"item_id": int(external_id.split(":")[0])}
    )


def detail(item: dict[str, Any]) -> dict[str, Any]:
    return {"item": item}


def test_capabilities_declare_the_documented_facts() -> None:
    caps = BaseReconciler.capabilities
    assert caps.stock_model is StockModel.QUANTITY and caps.webhook_scheme is None
    assert caps.write_unit is WriteUnit.ITEM and caps.unit_key("12:34") == "12:34"
    assert caps.max_read_batch == 100 and not caps.compare_and_set
    assert [(w.requests, w.seconds, w.aligned) for w in caps.rate_budget.windows] == [
        (5_000, 3_600, True),
        (100_000, 86_400, True),
    ]
    assert caps.rate_budget.requests_per_second * 86_400 <= 100_000
    assert caps.unlimited is not None and "no unlimited" in caps.unlimited


async def test_few_items_are_read_by_detail_with_the_bearer_token() -> None:
    full = fixture("full")["items"]
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.get(f"{API}/items/detail/1234", payload=detail(full[0]))
            mocked.get(f"{API}/items/detail/12345", payload=detail(full[1]))
            seen = await reconciler(session).observe(
                variants("1234:11", "1234:12", "1234:99", "12345", "1234")
            )
    by_id = {o.external_id: o for o in seen}
    assert (by_id["1234:11"].available, by_id["1234:11"].quantity) == (True, 6)
    assert (by_id["1234:12"].quantity, by_id["12345"].quantity) == (4, 20)
    assert "1234:99" not in by_id  # the item has no such variation: not found
    summed = by_id["1234"]  # an item with variations named by its item id: its stock is their sum
    assert summed.quantity is None and summed.problem and "sum" in summed.problem
    assert summed.platform_ref is not None and CANNOT_ENFORCE in summed.platform_ref
    [request] = sent(mocked, "GET", f"{API}/items/detail/1234")
    assert request.kwargs["headers"]["Authorization"] == "Bearer base-access-token-0123"
    assert len(mocked.requests) == 2  # one detail per distinct item


async def test_many_items_walk_the_listing_until_all_are_seen_then_look_up_the_missing() -> None:
    page = [{"item_id": 100 + n, "stock": n, "variations": []} for n in range(100)]
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.get(LISTING.format(0), payload={"items": page})
            mocked.get(
                LISTING.format(100), payload={"items": [{"item_id": 500, "stock": 2, "variations": []}]}
            )
            mocked.get(
                f"{API}/items/detail/999", status=400, payload={"error": "no_item", "error_description": "x"}
            )
            base = reconciler(session)
            seen = await base.observe(variants("101", "150", "199", "500", "999"))
            assert {o.external_id: o.quantity for o in seen} == {"101": 1, "150": 50, "199": 99, "500": 2}
            assert base_module.LISTING_PAGES["b1"] == 2  # the shop's listing takes two pages
            mocked.get(f"{API}/items/detail/101", payload=detail(page[1]))
            mocked.get(f"{API}/items/detail/150", payload=detail(page[50]))
            again = await base.observe(variants("101", "150"))  # 2 items ≤ 2 pages: by detail
    assert {o.external_id: o.quantity for o in again} == {"101": 1, "150": 50}
    assert len(sent(mocked, "GET", LISTING.format(0))) == 1


async def test_zero_minimal_and_unreadable_stock() -> None:
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.get(f"{API}/items/detail/1234", payload=fixture("zero"))
            mocked.get(f"{API}/items/detail/12345", payload=fixture("minimal"))
            mocked.get(f"{API}/items/detail/777", payload=fixture("untracked"))
            seen = {
                o.external_id: o
                for o in await reconciler(session).observe(variants("1234:11", "12345", "777"))
            }
    assert (seen["1234:11"].available, seen["1234:11"].quantity) == (False, 0)
    assert (seen["12345"].available, seen["12345"].quantity) == (True, 3)
    assert seen["777"].quantity is None and seen["777"].problem is not None


async def test_a_bad_external_id_is_a_problem_without_a_request() -> None:
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            seen = await reconciler(session).observe(variants("abc", "12:x", "012"))
    assert all(o.problem and "item_id" in o.problem for o in seen) and len(seen) == 3
    assert not mocked.requests


async def test_apply_posts_one_form_per_item_or_variation_and_confirms_the_answer() -> None:
    answer = fixture("full")["items"][0] | {"variations": [{"variation_id": 11, "variation_stock": 0}]}
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.post(EDIT, payload=detail(answer))
            mocked.post(EDIT, payload=detail({"item_id": 12345, "stock": 25, "variations": []}))
            result = await reconciler(session).apply([change("1234:11", False, 0), change("12345", True)])
    assert result.failed == ()
    assert {(o.external_id, o.available, o.quantity) for o in result.confirmed} == {
        ("1234:11", False, 0),
        ("12345", True, 25),  # status mode: available = the store's POD quantity
    }
    first, second = sent(mocked, "POST", EDIT)
    assert first.kwargs["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(first.kwargs["data"].decode()) == {
        "item_id": ["1234"],
        "variation_id": ["11"],
        "variation_stock": ["0"],
    }
    assert parse_qs(second.kwargs["data"].decode()) == {"item_id": ["12345"], "stock": ["25"]}
    assert first.kwargs.get("json") is None


async def test_a_refused_write_is_permanent_for_that_item_only() -> None:
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.post(EDIT, status=400, payload=fixture("error"))
            mocked.post(EDIT, payload=detail({"item_id": 12345, "stock": 4, "variations": []}))
            result = await reconciler(session).apply([change("1234:99", True, 4), change("12345", True, 4)])
    [failure] = result.failed
    assert failure.external_id == "1234:99" and failure.kind is FailureKind.PERMANENT
    assert "400" in failure.reason
    assert [o.external_id for o in result.confirmed] == ["12345"]


def _date(text: str) -> dict[str, str]:
    return {"Date": text}


async def test_the_hourly_quota_is_throttling_waited_out_on_the_stores_clock() -> None:
    limited = {"error": "hour_api_limit", "error_description": "1時間のAPIの利用上限を超えました。"}
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.get(
                f"{API}/items/detail/12345",
                status=400,
                payload=limited,
                headers=_date("Mon, 07 Dec 2026 10:59:59 GMT"),
            )
            mocked.get(f"{API}/items/detail/12345", payload=fixture("minimal"))
            [seen] = await reconciler(session).observe(variants("12345"))
    assert seen.quantity == 3  # retried after the store's hour turned (about 2 s here), not refused


async def test_a_quota_far_from_its_boundary_is_a_temporary_failure_with_the_wait() -> None:
    limited = {"error": "day_api_limit", "error_description": "1日のAPIの利用上限を超えました。"}
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.post(EDIT, status=400, payload=limited, headers=_date("Mon, 07 Dec 2026 03:00:00 GMT"))
            result = await reconciler(session).apply([change("12345", True, 4)])
    [failure] = result.failed
    assert failure.kind is FailureKind.TEMPORARY and "rate limited" in failure.reason
    assert len(mocked.requests) == 1  # not retried inside the window


def test_quota_waits_end_at_the_next_hour_and_at_midnight_in_japan() -> None:
    hour = quota_wait({"error": "hour_api_limit"}, "Mon, 07 Dec 2026 10:45:00 GMT")
    assert hour == pytest.approx(15 * 60 + 1)
    day = quota_wait({"error": "day_api_limit"}, "Mon, 07 Dec 2026 14:00:00 GMT")  # 23:00 in Japan
    assert day == pytest.approx(3600 + 1)
    clock = datetime(2026, 12, 7, 10, 59, 30, tzinfo=UTC)  # no Date header: our own clock
    assert quota_wait({"error": "hour_api_limit"}, None, clock) == pytest.approx(31)
    assert quota_wait({"error": "bad_params"}, None) is None
    assert quota_wait("not json", "garbage") is None


async def test_a_refused_token_is_refreshed_once_with_the_documented_form() -> None:
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            refused = {"error": "invalid_request", "error_description": "アクセストークンが無効です。"}
            mocked.get(f"{API}/items/detail/12345", status=400, payload=refused)
            mocked.post(
                TOKEN_URL,
                payload={
                    "access_token": "new-access-0123",
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "refresh_token": "new-refresh-0123",
                },
            )
            mocked.get(f"{API}/items/detail/12345", payload=fixture("minimal"))
            [seen] = await reconciler(session).observe(variants("12345"))
    assert seen.quantity == 3
    [refresh] = sent(mocked, "POST", TOKEN_URL)
    assert parse_qs(refresh.kwargs["data"].decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["base-refresh-token-0123"],
        "client_id": ["base-client-id"],
        "client_secret": ["base-client-secret-0123"],
        "redirect_uri": ["https://example.test/callback"],
    }
    first, second = sent(mocked, "GET", f"{API}/items/detail/12345")
    assert second.kwargs["headers"]["Authorization"] == "Bearer new-access-0123"
    [token] = tokens.KEPT.values()
    assert token.refresh == "new-refresh-0123" and "new-" not in repr(token)


async def test_no_access_token_refreshes_first_and_a_refused_refresh_is_auth() -> None:
    keys = {k: v for k, v in KEYS.items() if k != "access_token"}
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.post(TOKEN_URL, status=400, payload={"error": "invalid_request", "error_description": "x"})
            base = reconciler(session, keys)
            with pytest.raises(AuthError) as caught:
                await base.observe(variants("12345"))
            result = await base.apply([change("12345", True, 4)])
    assert "re-authorize" in str(caught.value) and "401" in str(caught.value)
    assert all(v not in str(caught.value) for v in KEYS.values())
    assert [f.kind for f in result.failed] == [FailureKind.AUTH]
    assert len(sent(mocked, "POST", TOKEN_URL)) == 1  # a refused refresh token is not tried again
    assert not sent(mocked, "GET", f"{API}/items/detail/12345")


async def test_a_missing_scope_is_auth() -> None:
    async with aiohttp.ClientSession() as session:
        with aioresponses() as mocked:
            mocked.post(EDIT, status=400, payload={"error": "invalid_scope", "error_description": "x"})
            result = await reconciler(session).apply([change("12345", True, 4)])
    assert [f.kind for f in result.failed] == [FailureKind.AUTH] and "write_items" in result.failed[0].reason


async def test_notifications_are_refused_saying_why() -> None:
    async with aiohttp.ClientSession() as session:
        base = reconciler(session)
        with pytest.raises(InputError, match="full passes"):
            base.parse_webhook({}, b"{}")
        with pytest.raises(InputError, match="full passes"):
            base.verify_webhook({}, b"{}")


async def test_settings_are_checked() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigError, match="page_size"):
            reconciler(session, page_size=500)
        with pytest.raises(ConfigError, match="batch_limit"):
            reconciler(session, batch_limit=5)
        with pytest.raises(ConfigError, match="https"):
            reconciler(session, base_url="http://api.thebase.in")
        with pytest.raises(TemporaryError):
            with aioresponses() as mocked:
                mocked.get(f"{API}/items/detail/12345", payload={"unexpected": True})
                await reconciler(session).observe(variants("12345"))
