"""SquareReconciler at the wire (aioresponses): exact requests, every documented answer shape, and every
request checked against Square's OpenAPI file (tests/reconcilers/fakes/square_spec.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, StoreRules, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.interface import ReconcilerContext
from reconcilers.square import API_VERSION, SquareReconciler
from reconcilers.square_objects import UNTRACKED, batch_key
from reconcilers.transport import AuthError
from tests.reconcilers.fakes.square_spec import EVENT_PATH, present, square_event_spec, square_spec
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "square"
TOKEN, KEY = "EAAAl-square-access-token-0123", "square-signature-key-4567"
CREDENTIAL = Secret("square-l1", json.dumps({"access_token": TOKEN, "signature_key": KEY}))
BASE = "https://connect.squareup.com/v2"
CATALOG, COUNTS = f"{BASE}/catalog/batch-retrieve", f"{BASE}/inventory/counts/batch-retrieve"
CHANGES = f"{BASE}/inventory/changes/batch-create"
HOOK_URL = "https://sync.example.com/v1/stores/sq1/webhook"
NOW = datetime(2026, 12, 7, 10, 0, 0, 250_000, tzinfo=UTC)
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Square-Version": API_VERSION}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, **settings: Any
) -> SquareReconciler:
    store = StoreConfig(
        "sq1",
        "square",
        "europe",
        "square-l1",
        rules=StoreRules(pod_quantity=50),
        settings={"location_id": "L1", "notification_url": HOOK_URL, **settings},
    )
    transport = quick_transport(session, "square", "sq1")
    made = SquareReconciler(ReconcilerContext(store, transport, credential))
    made.clock = lambda: NOW
    return made


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("sq1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses, url: str) -> list[Any]:
    """The JSON bodies POSTed to `url` (the `mocked` fixture checks each against Square's spec)."""
    return [call.kwargs["json"] for call in mocked.requests.get(("POST", URL(url)), [])]


def answered(url: str, status: int, body: Any) -> Any:
    """A fixture answer, checked against the spec (when beside this checkout) before a test relies on it."""
    if present():
        square_spec().check_response("POST", URL(url).path, status, body)
    return body


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """The mocked wire; afterwards every request the reconciler sent is checked against the spec."""
    with aioresponses() as m:
        yield m
    for (method, url), calls in m.requests.items():
        for call in calls:
            assert (method, call.kwargs["headers"]) == ("POST", HEADERS)
            if present():  # without ../shared the wire tests still run; test_the_spec_is_here says so
                square_spec().check_request(method, url.path, body=call.kwargs["json"])


def test_the_spec_is_here() -> None:
    """Skips with the reason in a user's clone, where the traffic above is not checked against it."""
    assert square_spec().name.startswith("square/api.json")


def serve_shape(mocked: aioresponses, name: str) -> None:
    shape = fixture(name)
    mocked.post(CATALOG, payload=answered(CATALOG, 200, shape["catalog"]))
    mocked.post(COUNTS, payload=answered(COUNTS, 200, shape["counts"]))


def count_query(*ids: str, cursor: str | None = None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "catalog_object_ids": list(ids),
        "location_ids": ["L1"],
        "states": ["IN_STOCK"],
        "limit": 1000,
    }
    return {**query, "cursor": cursor} if cursor else query


# --- observe ---------------------------------------------------------------------------------------


async def test_observe_reads_variations_then_in_stock_counts_and_maps_each(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    serve_shape(mocked, "full")
    ids = ["COFFEE_REG", "COFFEE_LRG", "BEANS_KG", "MUG", "TEA", "NEW_BLEND", "CUP_SET", "GIFT_BOX"]
    ids += ["FILTER", "OLD_BLEND", "GONE", "bad id"]
    got = {o.external_id: o for o in await reconciler(session).observe(variants(*ids))}
    assert sent(mocked, CATALOG) == [{"object_ids": ids[:-1]}]  # "bad id" cannot be a catalog id
    # only the tracked, present variations' counts are asked for
    tracked = ["COFFEE_REG", "COFFEE_LRG", "BEANS_KG", "MUG", "TEA", "NEW_BLEND", "GIFT_BOX", "FILTER"]
    assert sent(mocked, COUNTS) == [count_query(*tracked)]
    assert {k: (o.available, o.quantity) for k, o in got.items() if o.problem is None} == {
        "COFFEE_REG": (True, 3),  # the L2 count of the same variation is not ours
        "COFFEE_LRG": (False, 0),
        "BEANS_KG": (True, 3),  # 2.5: sellable, never equal to a written 2
        "MUG": (False, 0),  # sold out by hand until 2099 although 5 are counted: the docs say 0
        "TEA": (True, 7),  # the location override turns tracking on
        "NEW_BLEND": (False, 0),  # no count record yet: Square starts at 0
        "FILTER": (False, -2),  # oversold; the old sold-out mark has expired
    }
    assert "not sold at location L1" in str(got["CUP_SET"].problem)
    assert "estimated" in str(got["GIFT_BOX"].problem)
    assert set(got) == set(ids) - {"OLD_BLEND", "GONE", "bad id"}  # deleted or unknown: not found
    for problem in (got["CUP_SET"], got["GIFT_BOX"]):
        assert problem.platform_ref is not None and CANNOT_ENFORCE in problem.platform_ref


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimal", {"COFFEE_REG": (True, 12, None), "TEA": (False, 0, None)}),
        ("zero", {"COFFEE_REG": (False, 0, None), "TEA": (False, 0, None)}),
        ("untracked", {"COFFEE_REG": (None, None, UNTRACKED), "TEA": (None, None, UNTRACKED)}),
    ],
)
async def test_observe_shapes(
    session: aiohttp.ClientSession, mocked: aioresponses, name: str, expected: dict[str, Any]
) -> None:
    serve_shape(mocked, name)
    got = await reconciler(session).observe(variants("COFFEE_REG", "TEA"))
    assert {o.external_id: (o.available, o.quantity, o.problem) for o in got} == expected
    assert len(sent(mocked, COUNTS)) == (0 if name == "untracked" else 1)  # nothing to count


async def test_observe_follows_the_count_cursor(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    shape = fixture("minimal")
    mocked.post(CATALOG, payload=shape["catalog"])
    first = {"counts": [], "cursor": "CURSOR-2"}
    mocked.post(COUNTS, payload=answered(COUNTS, 200, first))
    mocked.post(COUNTS, payload=shape["counts"])
    got = await reconciler(session).observe(variants("COFFEE_REG", "TEA"))
    assert [(o.external_id, o.quantity) for o in got] == [("COFFEE_REG", 12), ("TEA", 0)]
    ids = ("COFFEE_REG", "TEA")
    assert sent(mocked, COUNTS) == [count_query(*ids), count_query(*ids, cursor="CURSOR-2")]


async def test_observe_chunks_by_the_read_batch(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    for _ in range(2):
        mocked.post(CATALOG, payload={"objects": []})
    assert await reconciler(session, page_size=2).observe(variants("A", "B", "C")) == []
    assert sent(mocked, CATALOG) == [{"object_ids": ["A", "B"]}, {"object_ids": ["C"]}]
    assert sent(mocked, COUNTS) == []  # nothing found: nothing to count


async def test_a_count_beyond_int4_or_not_a_number_is_that_items_problem(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    shape = fixture("minimal")
    mocked.post(CATALOG, payload=shape["catalog"])
    mocked.post(
        COUNTS,
        payload={
            "counts": [
                {
                    "catalog_object_id": "COFFEE_REG",
                    "state": "IN_STOCK",
                    "location_id": "L1",
                    "quantity": "3000000000",
                },
                {"catalog_object_id": "TEA", "state": "IN_STOCK", "location_id": "L1", "quantity": "lots"},
            ]
        },
    )
    got = {o.external_id: o for o in await reconciler(session).observe(variants("COFFEE_REG", "TEA"))}
    assert "3000000000" in str(got["COFFEE_REG"].problem) and got["COFFEE_REG"].quantity is None
    assert "not a decimal" in str(got["TEA"].problem)


async def test_a_refused_token_is_an_auth_error_without_the_token(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    refusal = {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED", "detail": "no"}]}
    mocked.post(CATALOG, status=401, payload=answered(CATALOG, 401, refusal))
    with pytest.raises(AuthError) as caught:
        await reconciler(session).observe(variants("A"))
    assert "401" in str(caught.value) and TOKEN not in str(caught.value)


async def test_rate_limited_is_retried(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    limited = {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED", "detail": "slow down"}]}
    mocked.post(CATALOG, status=429, payload=answered(CATALOG, 429, limited))
    mocked.post(CATALOG, payload={"objects": []})
    assert await reconciler(session).observe(variants("A")) == []
    assert len(sent(mocked, CATALOG)) == 2


# --- apply -----------------------------------------------------------------------------------------


def change(external_id: str, available: bool, quantity: int | None) -> Change:
    return Change(external_id, Availability(available, quantity), platform_ref={"seen": 1})


def physical(object_id: str, quantity: str) -> dict[str, Any]:
    return {
        "type": "PHYSICAL_COUNT",
        "physical_count": {
            "catalog_object_id": object_id,
            "location_id": "L1",
            "state": "IN_STOCK",
            "quantity": quantity,
            "occurred_at": "2026-12-07T09:59:59.250+00:00",  # a second before now: never ahead of Square
        },
    }


def counts_answer(**quantities: str) -> dict[str, Any]:
    counts = [
        {
            "catalog_object_id": k,
            "catalog_object_type": "ITEM_VARIATION",
            "state": "IN_STOCK",
            "location_id": "L1",
            "quantity": v,
            "calculated_at": "2026-12-07T09:59:59.250Z",
        }
        for k, v in quantities.items()
    ]
    answer = {"counts": counts}
    answered(CHANGES, 200, answer)
    return answer


async def test_apply_writes_physical_counts_in_one_batch(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(CHANGES, payload=counts_answer(A="0", B="50", C="7"))
    result = await reconciler(session).apply(
        [change("A", False, None), change("B", True, None), change("C", True, 7)]
    )
    entries = [physical("A", "0"), physical("B", "50"), physical("C", "7")]  # status mode: pod_quantity
    assert sent(mocked, CHANGES) == [
        {"idempotency_key": batch_key(entries), "ignore_unchanged_counts": False, "changes": entries}
    ]
    assert result.failed == ()
    assert [(o.external_id, o.available, o.quantity, o.platform_ref) for o in result.confirmed] == [
        ("A", False, 0, {"seen": 1}),
        ("B", True, 50, {"seen": 1}),
        ("C", True, 7, {"seen": 1}),
    ]


async def test_in_stock_quantity_setting_and_a_negative_target(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(CHANGES, payload={"counts": []})  # an answer without counts: our own values stand
    result = await reconciler(session, in_stock_quantity=9).apply(
        [change("A", True, None), change("B", False, -3)]
    )
    [body] = sent(mocked, CHANGES)
    assert [c["physical_count"]["quantity"] for c in body["changes"]] == ["9", "0"]
    assert [(o.available, o.quantity) for o in result.confirmed] == [(True, 9), (False, 0)]


async def test_a_retried_batch_reuses_its_idempotency_key(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(
        CHANGES, status=503, payload={"errors": [{"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE"}]}
    )
    mocked.post(CHANGES, payload=counts_answer(A="4"))
    result = await reconciler(session).apply([change("A", True, 4)])
    first, second = sent(mocked, CHANGES)
    assert first == second  # the same body, hence the same key: Square applies it once
    assert [o.quantity for o in result.confirmed] == [4]


async def test_another_batch_never_reuses_a_key(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    mocked.post(CHANGES, payload=counts_answer(A="4"), repeat=True)
    made = reconciler(session)
    await made.apply([change("A", True, 4)])
    made.clock = lambda: NOW.replace(second=5)
    await made.apply([change("A", True, 4)])
    first, second = sent(mocked, CHANGES)
    assert first["idempotency_key"] != second["idempotency_key"]
    assert 1 <= len(first["idempotency_key"]) <= 128


async def test_a_refused_batch_fails_the_named_change_and_retries_the_others(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(CHANGES, status=400, payload=answered(CHANGES, 400, fixture("error")))
    result = await reconciler(session).apply(
        [change("COFFEE_REG", True, 1), change("TEA", True, 1), change("MUG", False, 0)]
    )
    assert result.confirmed == ()
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {
        "COFFEE_REG": FailureKind.TEMPORARY,
        "TEA": FailureKind.PERMANENT,
        "MUG": FailureKind.TEMPORARY,
    }
    [tea] = [f for f in result.failed if f.external_id == "TEA"]
    assert "INVALID_VALUE" in tea.reason and "cannot be counted" in tea.reason


async def test_a_refusal_naming_no_change_fails_all_for_good(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    refusal = {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "INVALID_TIME", "detail": "too old"}]}
    mocked.post(CHANGES, status=400, payload=refusal)
    result = await reconciler(session).apply([change("A", True, 1), change("B", True, 1)])
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT] * 2
    assert "HTTP 400" in result.failed[0].reason


async def test_a_count_superseded_by_a_later_change_is_not_confirmed(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(CHANGES, payload=counts_answer(A="6", B="2"))
    result = await reconciler(session).apply([change("A", True, 2), change("B", True, 2)])
    assert [o.external_id for o in result.confirmed] == ["B"]
    [failure] = result.failed
    assert (failure.external_id, failure.kind) == ("A", FailureKind.TEMPORARY)
    assert "superseded" in failure.reason


async def test_a_refused_credential_fails_every_item_as_auth(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.post(
        CHANGES,
        status=401,
        payload={"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]},
    )
    result = await reconciler(session).apply([change("A", True, 1), change("B", True, 1)])
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]
    assert "401" in result.failed[0].reason and TOKEN not in result.failed[0].reason


async def test_more_than_a_batch_is_refused_before_any_request(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="max_write_batch 100"):
        await reconciler(session).apply([change(f"V{i}", True, 1) for i in range(101)])


# --- webhooks --------------------------------------------------------------------------------------


def signed(body: bytes, key: str = KEY, url: str = HOOK_URL) -> dict[str, str]:
    digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return {"X-Square-HmacSha256-Signature": base64.b64encode(digest).decode()}


def test_the_signature_covers_the_notification_url_and_the_raw_body(session: aiohttp.ClientSession) -> None:
    body = json.dumps(fixture("webhook_count_updated")).encode()
    made = reconciler(session)
    assert made.verify_webhook(signed(body), body)
    assert not made.verify_webhook(signed(body, url=HOOK_URL + "/"), body)  # byte for byte
    assert not made.verify_webhook(signed(body, key="another-key"), body)
    assert not made.verify_webhook(signed(body) | {"x-square-signature": "legacy"}, body + b"\n")
    assert not reconciler(session, notification_url=None).verify_webhook(signed(body), body)
    no_key = Secret("k", json.dumps({"access_token": TOKEN}))
    assert not reconciler(session, no_key).verify_webhook(signed(body), body)


def test_an_inventory_event_names_our_locations_in_stock_counts(session: aiohttp.ClientSession) -> None:
    if present():
        square_event_spec().check_response("GET", EVENT_PATH, 200, fixture("webhook_count_updated"))
    body = json.dumps(fixture("webhook_count_updated")).encode()
    notified = reconciler(session).parse_webhook(signed(body), body)
    # the SOLD side of the state change and another location's count are not ours
    assert list(notified) == [Observed("COFFEE_REG", True, 10), Observed("BEANS_KG", True, 1)]
    assert notified.delivery_id == "df5f3813-a913-45a1-94e9-fdc3f7d5e3b6"
    assert notified.occurred_at == datetime(2026, 12, 7, 10, 38, 45, 455006, tzinfo=UTC)
    assert not notified.reread


def test_another_sellers_events_are_ignored_when_the_merchant_is_set(session: aiohttp.ClientSession) -> None:
    body = json.dumps(fixture("webhook_count_updated")).encode()
    assert len(reconciler(session, merchant_id="6SSW7HV8K2ST5").parse_webhook({}, body)) == 2
    other = reconciler(session, merchant_id="ANOTHER").parse_webhook({}, body)
    assert (list(other), other.reread, other.delivery_id) == (
        [],
        False,
        "df5f3813-a913-45a1-94e9-fdc3f7d5e3b6",
    )


def test_a_catalog_event_asks_for_a_reread_and_others_change_nothing(session: aiohttp.ClientSession) -> None:
    made = reconciler(session)
    catalog = {
        "type": "catalog.version.updated",
        "event_id": "e2",
        "created_at": "2026-12-07T10:00:00Z",
        "data": {},
    }
    notified = made.parse_webhook({}, json.dumps(catalog).encode())
    assert (notified.reread, list(notified), notified.delivery_id) == (True, [], "e2")
    other = made.parse_webhook({}, json.dumps({**catalog, "type": "payment.created"}).encode())
    assert (other.reread, list(other)) == (False, [])


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "body"),
        ({"event_id": "e"}, "type"),
        ({"type": "inventory.count.updated", "data": {}}, "data.object.inventory_counts"),
        ({"type": "inventory.count.updated", "created_at": "yesterday"}, "created_at"),
        (
            {
                "type": "inventory.count.updated",
                "data": {"object": {"inventory_counts": [{"location_id": "L1", "state": "IN_STOCK"}]}},
            },
            "data.object.inventory_counts[0].catalog_object_id",
        ),
        (
            {
                "type": "inventory.count.updated",
                "data": {
                    "object": {
                        "inventory_counts": [
                            {
                                "location_id": "L1",
                                "state": "IN_STOCK",
                                "catalog_object_id": "A",
                                "quantity": "many",
                            }
                        ]
                    }
                },
            },
            "data.object.inventory_counts[0].quantity",
        ),
    ],
)
def test_a_malformed_event_is_bad_input_naming_the_field(
    session: aiohttp.ClientSession, event: Any, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        reconciler(session).parse_webhook({}, json.dumps(event).encode())
    assert caught.value.field == field


def test_a_count_too_large_to_hold_is_a_problem_not_a_crash(session: aiohttp.ClientSession) -> None:
    count = {"location_id": "L1", "state": "IN_STOCK", "catalog_object_id": "A", "quantity": "9" * 45}
    event = {"type": "inventory.count.updated", "data": {"object": {"inventory_counts": [count]}}}
    [item] = reconciler(session).parse_webhook({}, json.dumps(event).encode())
    assert item.problem is not None and item.quantity is None


# --- settings and credentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"location_id": None}, "location_id"),
        ({"batch_limit": 250}, "batch_limit"),
        ({"page_size": 5000}, "page_size"),
        ({"notification_url": "ftp://x"}, "notification_url"),
        ({"notification_url": "https://x/ y"}, "notification_url"),
        ({"base_url": "http://connect.squareup.com"}, "base_url"),
        ({"merchant_id": ["M1"]}, "merchant_id"),  # the token must not travel in clear
    ],
)
def test_bad_settings_name_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=rf"stores\.sq1\.settings\.{key}"):
        reconciler(session, **settings)


def test_a_plain_token_is_the_access_token_and_a_json_one_needs_it(session: aiohttp.ClientSession) -> None:
    assert reconciler(session, Secret("t", TOKEN))._headers["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(CredentialError, match="access_token"):
        reconciler(session, Secret("t", json.dumps({"signature_key": KEY})))


def test_refinements_within_the_documented_caps(session: aiohttp.ClientSession) -> None:
    caps = reconciler(session, batch_limit=50, page_size=200, requests_per_second=2).capabilities
    assert (caps.max_write_batch, caps.max_read_batch, caps.rate_budget.requests_per_second) == (50, 200, 2.0)
