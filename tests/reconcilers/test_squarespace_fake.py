"""The Squarespace fake behaves like the documentation, and SquarespaceReconciler works against it
through the shared transport (caps, auth, pagination, the 429 cool-down, idempotent retries)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, StoreConfig, SyncedVariant
from reconcilers.capabilities import RateWindow
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.squarespace import USER_AGENT, SquarespaceReconciler
from reconcilers.transport import RetryPolicy, Transport
from tests.reconcilers.fakes.squarespace_fake import SquarespaceFake

KEY = "fake-squarespace-key"
HEADERS = {"Authorization": f"Bearer {KEY}", "User-Agent": "stocksync-tests/1.0"}


def vid(number: int) -> str:
    return f"5f1c2d3e-4b5a-4c6d-8e7f-{number:012d}"


@pytest.fixture
async def fake() -> AsyncIterator[SquarespaceFake]:
    server = SquarespaceFake(KEY)
    await server.start()
    yield server
    await server.stop()


def build(session: aiohttp.ClientSession, fake: SquarespaceFake, pacer: Any = None) -> SquarespaceReconciler:
    store = StoreConfig("q1", "squarespace", "europe", "sq", settings={"base_url": fake.base})
    transport = Transport(
        session,
        platform="squarespace",
        store_id="q1",
        pacer=pacer or LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05),
    )
    return SquarespaceReconciler(
        ReconcilerContext(store, transport, Secret("sq", json.dumps({"access_token": KEY})))
    )


async def call(
    session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any]:
    async with session.request(method, url, headers=HEADERS if headers is None else headers, **kw) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if text else None


async def test_the_fake_wants_a_bearer_key_and_a_user_agent(fake: SquarespaceFake) -> None:
    fake.seed(vid(1), 3)
    url = f"{fake.base}/1.0/commerce/inventory/{vid(1)}"
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as bare:
        status, body = await call(bare, "GET", url, {"Authorization": "Bearer wrong", "User-Agent": "x"})
        assert status == 401
        assert set(body) == {"type", "subtype", "message", "details", "contextId"}
        assert body["type"] == "AUTHORIZATION_ERROR"
        status, body = await call(bare, "GET", url, {"Authorization": f"Bearer {KEY}"})
        assert (status, body["type"]) == (400, "INVALID_REQUEST_ERROR")
        status, body = await call(bare, "GET", url)
        assert (status, body["inventory"][0]["quantity"]) == (200, 3)


async def test_lookups_take_one_to_fifty_ids_and_any_unknown_one_is_a_404(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    for n in range(60):
        fake.seed(vid(n), n)
    base = f"{fake.base}/1.0/commerce/inventory/"
    status, body = await call(session, "GET", base + ",".join(vid(n) for n in range(50)))
    assert status == 200 and len(body["inventory"]) == 50
    assert (await call(session, "GET", base + ",".join(vid(n) for n in range(51))))[0] == 400
    assert (await call(session, "GET", base + f"{vid(1)},{vid(99)}"))[0] == 404


async def test_the_listing_pages_by_fifty_with_a_cursor(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    for n in range(120):
        fake.seed(vid(n), n)
    url, seen, cursors = f"{fake.base}/1.0/commerce/inventory", [], []
    params: dict[str, str] = {}
    while True:
        status, body = await call(session, "GET", url, params=params)
        assert status == 200
        seen += [item["variantId"] for item in body["inventory"]]
        if not body["pagination"]["hasNextPage"]:
            assert body["pagination"]["nextPageCursor"] is None
            break
        cursors.append(body["pagination"]["nextPageCursor"])
        params = {"cursor": cursors[-1]}
    assert seen == [vid(n) for n in range(120)] and len(cursors) == 2
    assert (await call(session, "GET", url, params={"cursor": "nope"}))[0] == 400


async def test_adjustments_are_checked_whole_and_applied_all_or_nothing(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    fake.seed(vid(1), 2)
    fake.seed(vid(2), None)
    url = f"{fake.base}/1.0/commerce/inventory/adjustments"

    async def adjust(body: dict[str, Any], key: str | None = "k-1") -> tuple[int, Any]:
        headers = {**HEADERS, **({"Idempotency-Key": key} if key else {})}
        return await call(session, "POST", url, headers, json=body)

    finite = {"setFiniteOperations": [{"variantId": vid(1), "quantity": 9}]}
    assert (await adjust(finite, key=None))[0] == 400
    assert (await adjust(finite, key="not a key!"))[0] == 400
    many = {"setFiniteOperations": [{"variantId": vid(1), "quantity": n} for n in range(51)]}
    assert (await adjust(many, key="k-many"))[0] == 400
    twice = {
        "setFiniteOperations": [{"variantId": vid(1), "quantity": 1}],
        "setUnlimitedOperations": [vid(1)],
    }
    assert (await adjust(twice, key="k-twice"))[0] == 400
    assert (await adjust({}, key="k-none"))[1]["subtype"] == "MISSING_ARGUMENT"
    below = {
        "setFiniteOperations": [{"variantId": vid(2), "quantity": 4}],
        "decrementOperations": [{"variantId": vid(1), "quantity": 3}],
    }
    assert (await adjust(below, key="k-below"))[1]["subtype"] == "INSUFFICIENT_STOCK"
    untracked = {"incrementOperations": [{"variantId": vid(2), "quantity": 1}]}
    assert (await adjust(untracked, key="k-untracked"))[1]["subtype"] == "STOCK_NOT_TRACKED"
    assert (
        fake.items[vid(2)]["isUnlimited"] is True and fake.items[vid(1)]["quantity"] == 2
    )  # nothing applied
    assert await adjust(finite) == (204, None)
    assert await adjust(finite) == (204, None)  # a replay: answered again, applied once
    assert len(fake.stats.adjustments) == 1 and fake.items[vid(1)]["quantity"] == 9
    assert (await adjust({"setUnlimitedOperations": [vid(1)]}))[0] == 400  # the key belongs to its body


async def test_a_429_starts_a_cool_down_and_the_rolling_minute_is_counted(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    fake.seed(vid(1), 1)
    url = f"{fake.base}/1.0/commerce/inventory/{vid(1)}"
    fake.limit_per_minute = 2
    assert [(await call(session, "GET", url))[0] for _ in range(3)] == [200, 200, 429]
    async with session.get(url, headers=HEADERS) as answer:  # still cooling down
        assert answer.status == 429 and "Retry-After" not in answer.headers
        assert (await answer.json())["type"] == "TOO_MANY_REQUESTS"
    assert fake.stats.refused_in_cool_down == 1


async def test_observe_reads_by_id_and_halves_a_lookup_with_an_unknown_id(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    for n in range(120):
        fake.seed(vid(n), None if n % 10 == 0 else n % 4)
    reconciler = build(session, fake)
    known = await reconciler.observe([SyncedVariant("q1", vid(n), f"u{n}") for n in range(0, 120, 2)])
    assert fake.stats.lookups == [50, 10] and fake.stats.listing_pages == 0
    by_id = {o.external_id: o for o in known}
    assert (by_id[vid(10)].available, by_id[vid(10)].quantity, by_id[vid(10)].unlimited) == (True, None, True)
    assert (by_id[vid(4)].available, by_id[vid(4)].quantity) == (False, 0)
    assert (by_id[vid(6)].available, by_id[vid(6)].quantity) == (True, 2)
    with_missing = [SyncedVariant("q1", vid(n), f"u{n}") for n in (1, 2, 500)]
    observed = await reconciler.observe(with_missing)
    assert sorted(o.external_id for o in observed) == [vid(1), vid(2)]
    assert fake.stats.lookups[2:] == [3, 1, 2, 1, 1] and fake.stats.listing_pages == 0  # halved to find it
    assert fake.stats.agents == {USER_AGENT}


async def test_many_unknown_ids_are_sorted_out_by_one_walk_of_the_listing(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    for n in range(120):
        fake.seed(vid(n), n % 5)
    asked = [vid(n) for n in range(40)] + [vid(1000 + n) for n in range(10)]  # 10 deleted variants
    observed = await build(session, fake).observe([SyncedVariant("q1", i, "u") for i in asked])
    assert {o.external_id: o.quantity for o in observed} == {vid(n): n % 5 for n in range(40)}
    assert fake.stats.listing_pages == 3  # walked once (120 items, 50 a page), past the halving budget
    assert len(fake.stats.lookups) <= 1 + 16 + 8


async def test_apply_writes_fifty_in_one_request_and_isolates_a_refused_variant(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    for n in range(50):
        fake.seed(vid(n), 5)
    reconciler = build(session, fake)
    result = await reconciler.apply([Change(vid(n), Availability(False, 0)) for n in range(50)])
    assert result.failed == () and len(fake.stats.adjustments) == 1
    assert all(item["quantity"] == 0 for item in fake.items.values())
    fake.refused.add(vid(7))
    result = await reconciler.apply([Change(vid(n), Availability(True, 2)) for n in range(10)])
    assert [(f.external_id, f.kind) for f in result.failed] == [(vid(7), FailureKind.PERMANENT)]
    assert len(result.confirmed) == 9 and fake.items[vid(8)]["quantity"] == 2


async def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    fake.seed(vid(1), 5)
    fake.lose_next_answer = 1
    result = await build(session, fake).apply([Change(vid(1), Availability(False, 0))])
    assert result.failed == ()
    assert len(fake.stats.idempotency_keys) == 2 and len(set(fake.stats.idempotency_keys)) == 1
    assert len(fake.stats.adjustments) == 1


async def test_the_reconciler_waits_out_the_cool_down_instead_of_retrying_into_it(
    session: aiohttp.ClientSession, fake: SquarespaceFake
) -> None:
    fake.seed(vid(1), 4)
    fake.cool_down_s, fake.throttle_next = 1.0, 1
    # the shipped window is 60 s; a 1 s cool-down of the same kind keeps the test short
    pacer = LeakyBucketPacer(1000, 1, windows=(RateWindow(5, 1, aligned=False),), remaining_header=None)
    [observed] = await build(session, fake, pacer).observe([SyncedVariant("q1", vid(1), "u1")])
    assert (observed.available, observed.quantity) == (True, 4)
    assert fake.stats.throttled_429 == 1 and fake.stats.refused_in_cool_down == 0
