"""The Square fake behaves as Square documents it (caps, auth, pagination, throttle, all-or-nothing
batches, idempotency, occurred_at rules, signed webhooks), and the reconciler's traffic through it
passes Square's OpenAPI file with zero violations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, StoreConfig, SyncedVariant
from reconcilers import ReconcilerFactory
from reconcilers.interface import Reconciler
from reconcilers.transport import AuthError, RetryPolicy
from tests.reconcilers.fakes.square_fake import SquareFake
from tests.reconcilers.fakes.square_spec import EVENT_PATH, present, square_event_spec, square_spec

TOKEN, KEY, LOCATION = "EAAA-fake-token", "fake-signature-key", "L1"


@pytest.fixture
async def fake() -> AsyncIterator[SquareFake]:
    server = SquareFake(TOKEN, KEY, LOCATION)
    await server.start()
    yield server
    await server.stop()


async def call(
    session: aiohttp.ClientSession, fake: SquareFake, path: str, body: Any, token: str = TOKEN
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Square-Version": "2025-08-20"}
    async with session.post(fake.base_url + path, json=body, headers=headers) as answer:
        return answer.status, await answer.json()


def count(object_id: str, quantity: str, when: datetime | None = None) -> dict[str, Any]:
    stamp = (when or datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    return {
        "type": "PHYSICAL_COUNT",
        "physical_count": {
            "catalog_object_id": object_id,
            "location_id": LOCATION,
            "state": "IN_STOCK",
            "quantity": quantity,
            "occurred_at": stamp,
        },
    }


WRITE = "/v2/inventory/changes/batch-create"
COUNTS = "/v2/inventory/counts/batch-retrieve"
CATALOG = "/v2/catalog/batch-retrieve"


async def test_every_call_needs_the_bearer_token(session: aiohttp.ClientSession, fake: SquareFake) -> None:
    status, body = await call(session, fake, CATALOG, {"object_ids": ["A"]}, token="wrong")
    assert status == 401 and body["errors"][0]["code"] == "UNAUTHORIZED"
    assert fake.stats.catalog_reads == 0


async def test_the_version_header_must_be_a_date(session: aiohttp.ClientSession, fake: SquareFake) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Square-Version": "latest"}
    async with session.post(fake.base_url + CATALOG, json={"object_ids": ["A"]}, headers=headers) as answer:
        assert answer.status == 400
        assert (await answer.json())["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"


async def test_catalog_reads_take_at_most_1000_ids_and_omit_unknown_ones(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "3")
    fake.add("B", "0", tracked=False)
    status, body = await call(session, fake, CATALOG, {"object_ids": ["A", "B", "NOPE"]})
    assert status == 200
    objects = {o["id"]: o for o in body["objects"]}
    assert set(objects) == {"A", "B"}
    assert objects["A"]["item_variation_data"]["track_inventory"] is True
    assert objects["A"]["item_variation_data"]["location_overrides"][0]["sold_out"] is False
    assert objects["B"]["item_variation_data"]["location_overrides"][0]["sold_out"] is False  # untracked
    status, body = await call(session, fake, CATALOG, {"object_ids": [f"X{i}" for i in range(1001)]})
    assert status == 400 and body["errors"][0]["code"] == "ARRAY_LENGTH_TOO_LONG"


async def test_square_marks_a_tracked_count_of_zero_sold_out(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "0")
    fake.add("B", "4", sold_out_by_hand=True)
    _, body = await call(session, fake, CATALOG, {"object_ids": ["A", "B"]})
    sold_out = {
        o["id"]: o["item_variation_data"]["location_overrides"][0]["sold_out"] for o in body["objects"]
    }
    assert sold_out == {"A": True, "B": True}


async def test_count_reads_page_with_an_opaque_cursor(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    for number in range(5):
        fake.add(f"V{number}", str(number))
    query = {"catalog_object_ids": [f"V{n}" for n in range(5)], "states": ["IN_STOCK"], "limit": 2}
    seen: list[str] = []
    status, body = await call(session, fake, COUNTS, query)
    while True:
        assert status == 200
        seen += [c["catalog_object_id"] for c in body["counts"]]
        if "cursor" not in body:
            break
        status, body = await call(session, fake, COUNTS, {**query, "cursor": body["cursor"]})
    assert sorted(seen) == [f"V{n}" for n in range(5)] and len(seen) == 5
    for bad in ({**query, "limit": 1001}, {**query, "cursor": "%%%"}):
        status, body = await call(session, fake, COUNTS, bad)
        assert status == 400


async def test_a_batch_is_all_or_nothing_and_names_the_bad_change(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "5")
    fake.add("B", "5")
    fake.refused_ids.add("B")
    body = {"idempotency_key": "k1", "changes": [count("A", "1"), count("B", "1"), count("NOPE", "1")]}
    status, answer = await call(session, fake, WRITE, body)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == [
        "changes[1].physical_count.catalog_object_id",
        "changes[2].physical_count.catalog_object_id",
    ]
    assert fake.counts == {"A": "5", "B": "5"}  # nothing applied


@pytest.mark.parametrize(
    ("copies", "quantity", "age", "code"),
    [
        (101, "1", None, "ARRAY_LENGTH_TOO_LONG"),
        (1, "1.123456", None, "INVALID_VALUE"),  # more than 5 decimals
        (1, "1", -timedelta(minutes=5), "INVALID_TIME"),  # in the future
        (1, "1", timedelta(hours=25), "INVALID_TIME"),
    ],
)
async def test_batch_rules(
    session: aiohttp.ClientSession,
    fake: SquareFake,
    copies: int,
    quantity: str,
    age: timedelta | None,
    code: str,
) -> None:
    # times are taken when the test runs, not when it is collected (a long suite would age them)
    changes = [count("A", quantity, None if age is None else datetime.now(UTC) - age)] * copies
    fake.add("A", "5")
    status, answer = await call(session, fake, WRITE, {"idempotency_key": "k", "changes": changes})
    assert status == 400 and answer["errors"][0]["code"] == code


async def test_idempotency_replays_the_first_answer_and_refuses_another_body(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "5")
    body = {"idempotency_key": "k2", "changes": [count("A", "2")]}
    first = await call(session, fake, WRITE, body)
    fake.counts["A"] = "9"  # a sale in between: a replay must not write 2 again
    assert await call(session, fake, WRITE, body) == first
    assert fake.counts["A"] == "9" and fake.stats.writes == 1 and fake.stats.replays == 1
    status, answer = await call(session, fake, WRITE, {**body, "changes": [count("A", "3")]})
    assert status == 400 and answer["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    status, answer = await call(session, fake, WRITE, {"changes": [count("A", "3")]})
    assert status == 400 and answer["errors"][0]["field"] == "idempotency_key"


async def test_an_older_count_does_not_replace_a_later_change(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "5")
    await fake.manual_count("A", "7")
    older = count("A", "1", datetime.now(UTC) - timedelta(minutes=1))
    status, answer = await call(session, fake, WRITE, {"idempotency_key": "k3", "changes": [older]})
    assert status == 200 and answer["counts"][0]["quantity"] == "7"


async def test_an_unchanged_count_is_skipped_unless_asked_not_to(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.add("A", "5")
    await call(session, fake, WRITE, {"idempotency_key": "k4", "changes": [count("A", "5")]})
    assert "A" not in fake.stamps  # ignore_unchanged_counts defaults to true: nothing recorded
    body = {"idempotency_key": "k5", "ignore_unchanged_counts": False, "changes": [count("A", "5")]}
    await call(session, fake, WRITE, body)
    assert "A" in fake.stamps


async def test_throttling_is_a_429_rate_limited_without_retry_after(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.throttle_next = 1
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with session.post(fake.base_url + CATALOG, json={"object_ids": ["A"]}, headers=headers) as answer:
        assert answer.status == 429 and "Retry-After" not in answer.headers
        assert (await answer.json())["errors"][0]["code"] == "RATE_LIMITED"


async def test_webhooks_are_signed_over_the_notification_url_and_body(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        fake.add("A", "5")
        await fake.manual_count("A", "2")
        await fake.mark_sold_out("A")
    finally:
        await runner.cleanup()
    reconciler = build(session, fake, notification_url=fake.webhook_url)
    kinds = []
    for headers, body in received:
        assert reconciler.verify_webhook(headers, body)
        kinds.append(json.loads(body)["type"])
        assert not reconciler.verify_webhook(headers, body + b" ")
    assert kinds == ["inventory.count.updated", "catalog.version.updated"]
    if present():
        square_event_spec().check_response("GET", EVENT_PATH, 200, json.loads(received[0][1]))
    [item] = reconciler.parse_webhook(*received[0])
    assert (item.external_id, item.available, item.quantity) == ("A", True, 2)
    assert reconciler.parse_webhook(*received[1]).reread


def build(
    session: aiohttp.ClientSession, fake: SquareFake, token: str = TOKEN, **settings: Any
) -> Reconciler:
    store = StoreConfig(
        "sq",
        "square",
        "europe",
        "c",
        settings={
            "base_url": fake.base_url,
            "location_id": LOCATION,
            "requests_per_second": 1000,
            **settings,
        },
    )
    factory = ReconcilerFactory(session, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    return factory.build(store, Secret("c", json.dumps({"access_token": token, "signature_key": KEY})))


async def test_the_reconcilers_traffic_passes_squares_spec(
    session: aiohttp.ClientSession, fake: SquareFake
) -> None:
    fake.spec = square_spec()
    for number in range(1, 6):
        fake.add(f"V{number}", str(number))
    fake.add("UNTRACKED", None, tracked=False)
    reconciler = build(session, fake)
    wanted = [SyncedVariant("sq", f"V{n}", f"u{n}") for n in range(1, 6)]
    wanted.append(SyncedVariant("sq", "UNTRACKED", "u0"))
    seen = {o.external_id: o for o in await reconciler.observe(wanted)}  # full pass
    assert seen["V3"].quantity == 3 and seen["UNTRACKED"].problem is not None
    result = await reconciler.apply(  # a write
        [Change("V1", Availability(False, 0)), Change("V2", Availability(True, 8))]
    )
    assert result.failed == () and fake.counts["V2"] == "8"
    fake.throttle_next = 1  # throttle
    fake.fail_next = [503]  # server error
    assert len(await reconciler.observe(wanted[:2])) == 2
    fake.refused_ids.add("V4")  # a refused change in a batch
    result = await reconciler.apply(
        [Change("V3", Availability(True, 1)), Change("V4", Availability(True, 1))]
    )
    assert {f.external_id: f.kind for f in result.failed} == {
        "V3": FailureKind.TEMPORARY,
        "V4": FailureKind.PERMANENT,
    }
    with pytest.raises(AuthError):  # a refused credential
        await build(session, fake, token="wrong").observe(wanted[:1])
    assert fake.stats.throttled == 1 and fake.stats.writes == 1
    assert fake.violations == []
    assert fake.versions == {"2025-08-20"}


async def test_the_spec_check_is_live(session: aiohttp.ClientSession, fake: SquareFake) -> None:
    fake.spec = square_spec()
    await call(session, fake, WRITE, {"changes": []})  # no idempotency_key: the spec refuses it
    assert len(fake.violations) == 1 and "idempotency_key" in fake.violations[0]


def test_the_event_check_is_live() -> None:
    with pytest.raises(AssertionError, match="InventoryCountUpdatedEvent"):
        square_event_spec().check_response(
            "GET", EVENT_PATH, 200, {"data": {"object": {"inventory_counts": 3}}}
        )
