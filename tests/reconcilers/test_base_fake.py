"""The BASE fake behaves like the documentation (errors as 400 codes, form-only edit_stock, listing
caps, token refresh, quotas), and BaseReconciler works against it through the shared transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, StoreConfig, SyncedVariant
from reconcilers import base as base_module
from reconcilers import tokens
from reconcilers.base import BaseReconciler
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import RetryPolicy, Transport
from tests.reconcilers.fakes.base_fake import BaseFake

CLIENT = ("fake-client", "fake-client-secret", "https://example.test/cb")
REFRESH = "fake-refresh-token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(autouse=True)
def fresh_memory() -> Iterator[None]:
    tokens.KEPT.clear()
    base_module.LISTING_PAGES.clear()
    yield
    tokens.KEPT.clear()
    base_module.LISTING_PAGES.clear()


@pytest.fixture
async def fake() -> AsyncIterator[BaseFake]:
    server = BaseFake(*CLIENT, REFRESH)
    await server.start()
    yield server
    await server.stop()


def build(session: aiohttp.ClientSession, fake: BaseFake, access: str | None = None) -> BaseReconciler:
    store = StoreConfig("b1", "base", "japan", "b", settings={"base_url": fake.base})
    transport = Transport(
        session,
        platform="base",
        store_id="b1",
        pacer=LeakyBucketPacer(1000, 1000, remaining_header=None),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5),
    )
    keys = dict(zip(("client_id", "client_secret", "redirect_uri"), CLIENT, strict=True))
    keys |= {"refresh_token": REFRESH} | ({"access_token": access} if access else {})
    return BaseReconciler(ReconcilerContext(store, transport, Secret("b", json.dumps(keys))))


async def call(
    session: aiohttp.ClientSession, method: str, url: str, token: str | None, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, headers=headers | kw.pop("headers", {}), **kw) as answer:
        return answer.status, await answer.json()


async def test_every_error_is_a_400_with_a_code(fake: BaseFake) -> None:
    fake.seed(1, 3)
    token = fake.issue()
    reader = fake.issue(frozenset({"read_items"}))
    async with aiohttp.ClientSession() as session:
        assert (await call(session, "GET", f"{fake.base}/1/items", None))[1]["error"] == "invalid_request"
        assert await call(session, "GET", f"{fake.base}/1/items/detail/9", token) == (
            400,
            {"error": "no_item", "error_description": "商品が見つかりませんでした。"},
        )
        status, body = await call(session, "GET", f"{fake.base}/1/items/edit_stock", token)
        assert (status, body["error"]) == (400, "not_post_method")
        status, body = await call(
            session, "POST", f"{fake.base}/1/items/edit_stock", reader, data="item_id=1&stock=2", headers=FORM
        )
        assert (status, body["error"]) == (400, "invalid_scope")
        status, body = await call(
            session, "POST", f"{fake.base}/1/items/edit_stock", token, json={"item_id": 1, "stock": 2}
        )
        assert (status, body["error"]) == (400, "bad_params")  # JSON is not read
        assert fake.stock(1) == 3


async def test_edit_stock_sets_one_item_or_one_variation_and_sums_variations(fake: BaseFake) -> None:
    fake.seed(1, 3)
    fake.seed(2, variations={21: 1, 22: 2})
    token = fake.issue()
    url = f"{fake.base}/1/items/edit_stock"
    async with aiohttp.ClientSession() as session:
        status, body = await call(
            session, "POST", url, token, data="item_id=2&variation_id=21&variation_stock=5", headers=FORM
        )
        assert status == 200 and body["item"]["stock"] == 7
        assert (await call(session, "POST", url, token, data="item_id=2&stock=9", headers=FORM))[1][
            "error"
        ] == ("bad_variation_id")
        assert (await call(session, "POST", url, token, data="item_id=1&stock=-1", headers=FORM))[1][
            "error"
        ] == ("validation_error")
        assert (await call(session, "POST", url, token, data="item_id=8&stock=1", headers=FORM))[1][
            "error"
        ] == ("bad_item_id")
    assert (fake.stock(1), fake.stock(2, 21), fake.stock(2)) == (3, 5, 7)


async def test_the_listing_pages_by_limit_and_offset_up_to_100(fake: BaseFake) -> None:
    for n in range(1, 131):
        fake.seed(n, n)
    token = fake.issue()
    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "GET", f"{fake.base}/1/items?limit=101", token)
        assert (status, body["error"]) == (400, "bad_params")
        _, first = await call(session, "GET", f"{fake.base}/1/items?order=created&limit=100", token)
        _, rest = await call(session, "GET", f"{fake.base}/1/items?order=created&limit=100&offset=100", token)
        _, default = await call(session, "GET", f"{fake.base}/1/items", token)
    assert [len(first["items"]), len(rest["items"]), len(default["items"])] == [100, 30, 20]
    assert [i["item_id"] for i in first["items"] + rest["items"]] == list(range(1, 131))


async def test_the_token_endpoint_wants_the_whole_documented_form(fake: BaseFake) -> None:
    url = f"{fake.base}/1/oauth/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT[0],
        "client_secret": CLIENT[1],
        "redirect_uri": CLIENT[2],
        "refresh_token": REFRESH,
    }
    async with aiohttp.ClientSession() as session:
        for missing in ("redirect_uri", "client_secret", "grant_type"):
            status, body = await call(
                session, "POST", url, None, data={k: v for k, v in form.items() if k != missing}
            )
            assert status == 400 and body["error"] in ("invalid_request", "unauthorized_client")
        status, body = await call(session, "POST", url, None, data=form)
    assert status == 200 and body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["access_token"] in fake.tokens and body["refresh_token"] in fake.refresh_tokens


async def test_the_quotas_answer_their_codes_and_reset_on_the_hour(fake: BaseFake) -> None:
    fake.seed(1, 3)
    fake.limit_per_hour = 2
    clock = [1_800_000_000.0 - 10]  # ten seconds before a round hour
    fake.now = lambda: clock[0]
    token = fake.issue()
    url = f"{fake.base}/1/items/detail/1"
    async with aiohttp.ClientSession() as session:
        assert [(await call(session, "GET", url, token))[0] for _ in range(2)] == [200, 200]
        status, body = await call(session, "GET", url, token)
        assert (status, body["error"]) == (400, "hour_api_limit")
        clock[0] += 11
        assert (await call(session, "GET", url, token))[0] == 200
        fake.day_limit_next = 1
        assert (await call(session, "GET", url, token))[1]["error"] == "day_api_limit"


async def test_the_reconciler_refreshes_an_expired_token_and_writes_through_the_fake(fake: BaseFake) -> None:
    fake.seed(1, 3)
    fake.seed(2, variations={21: 1, 22: 2})
    async with aiohttp.ClientSession() as session:
        base = build(session, fake, access=fake.issue(lifetime=0))
        seen = {
            o.external_id: o
            for o in await base.observe([SyncedVariant("b1", e, e) for e in ("1", "2:21", "2")])
        }
        assert (seen["1"].quantity, seen["2:21"].quantity, seen["2"].problem is not None) == (3, 1, True)
        assert fake.stats.token_requests == 1
        result = await base.apply(
            [
                Change("1", Availability(False, 0), seen["1"].as_availability(), seen["1"].platform_ref),
                Change(
                    "2:21", Availability(True, 6), seen["2:21"].as_availability(), seen["2:21"].platform_ref
                ),
                Change("2", Availability(True, 6), None, seen["2"].platform_ref),
            ]
        )
    assert {(o.external_id, o.quantity) for o in result.confirmed} == {("1", 0), ("2:21", 6)}
    assert [f.kind for f in result.failed] == [FailureKind.PROBLEM]
    assert (fake.stock(1), fake.stock(2, 21), fake.stock(2)) == (0, 6, 8)
    assert len(fake.stats.writes) == 2  # one edit_stock per item or variation, none for the problem


async def test_the_reconciler_waits_out_an_hourly_quota_near_the_boundary(fake: BaseFake) -> None:
    fake.seed(1, 3)
    fake.now = lambda: 1_800_000_000.0 - 0.5
    fake.throttle_next = 1
    async with aiohttp.ClientSession() as session:
        [seen] = await build(session, fake).observe([SyncedVariant("b1", "1", "1")])
    assert seen.quantity == 3 and fake.stats.throttled == 1


async def test_the_reconciler_takes_the_cheaper_read_against_the_fake(fake: BaseFake) -> None:
    for n in range(1, 151):
        fake.seed(n, n)
    wanted = [SyncedVariant("b1", str(n), str(n)) for n in (5, 120, 150, 149)]
    async with aiohttp.ClientSession() as session:
        base = build(session, fake, access=fake.issue())
        seen = {o.external_id: o.quantity for o in await base.observe(wanted)}
        assert [(p["offset"], p["limit"], p["order"], p["sort"]) for p in fake.stats.listing_pages] == [
            ("0", "100", "created", "asc"),
            ("100", "100", "created", "asc"),
        ]
        again = {o.external_id: o.quantity for o in await base.observe(wanted[:2])}
    assert seen == {"5": 5, "120": 120, "150": 150, "149": 149} and again == {"5": 5, "120": 120}
    assert fake.stats.details == [5, 120]  # two items cost two details, not the two listing pages
