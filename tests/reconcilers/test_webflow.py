"""WebflowReconciler at the wire (aioresponses): exact requests, every documented answer shape, and every
request checked against Webflow's OpenAPI file (when ../shared is beside the checkout)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
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
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.capabilities import StockModel, WriteUnit
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import build_pacer
from reconcilers.transport import AuthError, PermanentError
from reconcilers.webflow import WebflowReconciler
from reconcilers.webflow_inventory import INFINITE_PROBLEM
from tests.reconcilers.fakes.webflow_spec import webflow_spec
from tests.reconcilers.test_ratelimit import completion_times, run_virtual
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "webflow"
TOKEN, SECRET = "wf-site-token-0123456789", "wf-webhook-secret-4567"
CREDENTIAL = Secret("webflow-site", json.dumps({"access_token": TOKEN, "webhook_secret": SECRET}))
BASE = "https://api.webflow.com/v2"
COLLECTION = "6377a7c4b7a79608c34a46f7"
A, B, C = "5bfedb42bab0ad90fa7dad39", "5bfedb42bab0ad90fa7dad3a", "5bfedb42bab0ad90fa7dad3b"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def url(sku: str) -> str:
    return f"{BASE}/collections/{COLLECTION}/items/{sku}/inventory"


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, **settings: Any
) -> WebflowReconciler:
    store = StoreConfig(
        "w1", "webflow", "europe", "webflow-site", settings={"sku_collection_id": COLLECTION, **settings}
    )
    transport = quick_transport(session, "webflow", "w1")
    return WebflowReconciler(ReconcilerContext(store, transport, credential))


def offline(credential: Secret = CREDENTIAL, **settings: Any) -> WebflowReconciler:
    """A reconciler whose transport is never used (webhooks, settings)."""
    return reconciler(None, credential, **settings)  # type: ignore[arg-type]  # never used here


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("w1", i, f"up-{i}") for i in ids]


def sent(mocked: aioresponses) -> Iterator[tuple[str, str, Any]]:
    """(method, url, call) of every request, in order, each checked against Webflow's OpenAPI file."""
    spec = webflow_spec()
    calls = [
        (method, str(address), call) for (method, address), made in mocked.requests.items() for call in made
    ]
    for method, address, call in calls:
        if spec is not None:
            path = URL(address).path.removeprefix("/v2")  # relative to the spec's server base
            headers = {"Authorization": call.kwargs["headers"]["Authorization"]}
            spec.check_request(method, path, headers=headers, body=call.kwargs["json"])
    return iter(calls)


async def test_observe_sends_one_get_per_sku_and_maps_each_shape(session: aiohttp.ClientSession) -> None:
    shapes = {A: "full", B: "zero", C: "untracked"}
    with aioresponses() as m:
        for sku, name in shapes.items():
            m.get(url(sku), payload=fixture(name))
        got = await reconciler(session).observe(variants(A, B, C, A))  # a duplicate is read once
    assert len(got) == 3 and got[:2] == [Observed(A, True, 100), Observed(B, False, 0)]
    assert got[2].problem == INFINITE_PROBLEM and got[2].available is None and got[2].quantity is None
    assert got[2].platform_ref is not None and CANNOT_ENFORCE in got[2].platform_ref
    calls = list(sent(m))
    assert [(method, address) for method, address, _ in calls] == [("GET", url(s)) for s in (A, B, C)]
    for _, _, call in calls:
        assert call.kwargs["headers"] == HEADERS and call.kwargs["json"] is None


async def test_observe_reads_the_minimal_shape(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(url(A), payload=fixture("minimal"))  # no id: the external id is what we asked for
        assert await reconciler(session).observe(variants(A)) == [Observed(A, True, 1)]
        list(sent(m))


async def test_a_missing_sku_is_left_out_and_a_bad_id_costs_no_request(
    session: aiohttp.ClientSession,
) -> None:
    not_found = {"code": "resource_not_found", "message": "Requested resource not found", "details": []}
    with aioresponses() as m:
        m.get(url(A), status=404, payload=not_found)
        m.get(url(B), payload=fixture("full"))
        got = await reconciler(session).observe(variants(A, "../../sites", B))
    assert got[0].external_id == "../../sites" and got[0].problem is not None
    assert got[1] == Observed(B, True, 100)
    assert [address for _, address, _ in sent(m)] == [url(A), url(B)]


async def test_store_wide_refusals_end_the_observation(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(
            url(A), status=409, payload={"code": "ecommerce_not_enabled", "message": "Ecommerce is not yet"}
        )
        with pytest.raises(PermanentError, match="409"):
            await reconciler(session).observe(variants(A, B))
        m.get(url(A), status=403, payload={"code": "missing_scopes", "message": "missing ecommerce:read"})
        with pytest.raises(AuthError, match="403"):
            await reconciler(session).observe(variants(A, B))
        m.get(url(A), status=400, payload=fixture("error"))  # one SKU's refusal: its problem only
        m.get(url(B), payload=fixture("zero"))
        got = await reconciler(session).observe(variants(A, B))
    assert got[0].problem is not None and "400" in got[0].problem and TOKEN not in got[0].problem
    assert got[1] == Observed(B, False, 0)
    assert len(list(sent(m))) == 4  # B never read after a store-wide refusal


async def test_observe_waits_out_a_429_and_retries_a_5xx(session: aiohttp.ClientSession) -> None:
    throttled = {"code": "too_many_requests", "message": "Too many requests", "details": []}
    with aioresponses() as m:
        m.get(
            url(A), status=429, headers={"Retry-After": "0", "X-RateLimit-Remaining": "0"}, payload=throttled
        )
        m.get(url(A), status=500, payload={"code": "internal_error", "message": "An Internal Error occurred"})
        m.get(url(A), payload=fixture("full"), headers={"X-RateLimit-Remaining": "59"})
        assert await reconciler(session).observe(variants(A)) == [Observed(A, True, 100)]
    assert len(list(sent(m))) == 3


async def test_unreadable_counts_are_per_item_problems(session: aiohttp.ClientSession) -> None:
    raw = {
        A: '{"inventoryType": "finite", "quantity": 3000000000}',
        B: '{"inventoryType": "finite", "quantity": 2.5}',
        C: '{"inventoryType": "finite", "quantity": 1e999}',
    }
    odd = ["5bfedb42bab0ad90fa7dad3c", "5bfedb42bab0ad90fa7dad3d", "5bfedb42bab0ad90fa7dad3e"]
    raw |= {
        odd[0]: '{"inventoryType": "finite"}',
        odd[1]: '{"inventoryType": "sometimes", "quantity": 1}',
        odd[2]: '{"inventoryType": "finite", "quantity": ' + "9" * 5000 + "}",
    }
    with aioresponses() as m:
        for sku, body in raw.items():
            m.get(url(sku), body=body, content_type="application/json")
        got = {o.external_id: o for o in await reconciler(session).observe(variants(*raw))}
    assert "3000000000" in str(got[A].problem)
    for sku in raw:
        assert got[sku].problem is not None and got[sku].as_availability() is None, sku
        assert len(got[sku].problem or "") < 300


async def test_apply_patches_absolute_finite_counts_one_sku_per_request(
    session: aiohttp.ClientSession,
) -> None:
    changes = [
        Change(A, Availability(True, None)),  # status mode, available: in_stock_quantity
        Change(B, Availability(False, None)),  # status mode, unavailable: 0
        Change(C, Availability(True, 12)),  # quantity mode
        Change("5bfedb42bab0ad90fa7dad3c", Availability(True, -3)),  # never a negative count
    ]
    answers = [25, 0, 12, 0]
    with aioresponses() as m:
        for change, quantity in zip(changes, answers, strict=True):
            answer = {"id": change.external_id, "quantity": quantity, "inventoryType": "finite"}
            m.patch(url(change.external_id), payload=answer)
        result = await reconciler(session, in_stock_quantity=25).apply(changes)
    calls = list(sent(m))
    assert [address for _, address, _ in calls] == [url(c.external_id) for c in changes]
    assert [call.kwargs["json"] for _, _, call in calls] == [
        {"inventoryType": "finite", "quantity": quantity} for quantity in answers
    ]
    assert all(call.kwargs["headers"] == HEADERS for _, _, call in calls)
    assert result.failed == ()
    assert result.confirmed == (
        Observed(A, True, 25),
        Observed(B, False, 0),
        Observed(C, True, 12),
        Observed("5bfedb42bab0ad90fa7dad3c", False, 0),
    )


async def test_status_mode_uses_the_pod_quantity_by_default(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.patch(url(A), payload={"id": A, "quantity": 100, "inventoryType": "finite"})
        result = await reconciler(session).apply([Change(A, Availability(True, None))])
        [(_, _, call)] = list(sent(m))
    assert call.kwargs["json"] == {"inventoryType": "finite", "quantity": 100}
    assert result.confirmed == (Observed(A, True, 100),)


async def test_an_infinite_sku_is_never_written(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(url(A), payload=fixture("untracked"))
        [seen] = await reconciler(session).observe(variants(A))
        change = Change(A, Availability(False, 0), platform_ref=seen.platform_ref)
        result = await reconciler(session).apply([change])
    assert [method for method, _, _ in sent(m)] == ["GET"]  # no PATCH: never switched to finite
    [failure] = result.failed
    assert failure.kind is FailureKind.PROBLEM and failure.reason == INFINITE_PROBLEM


async def test_a_write_the_store_did_not_take_is_not_confirmed(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.patch(url(A), payload={"id": A, "quantity": 7, "inventoryType": "finite"})
        m.patch(url(B), payload=fixture("untracked"))
        m.patch(url(C), payload={"unexpected": True})
        m.patch(url(C), payload={"unexpected": True})
        m.patch(url(C), payload={"unexpected": True})
        result = await reconciler(session).apply([Change(x, Availability(False, 0)) for x in (A, B, C)])
        list(sent(m))
    assert result.confirmed == ()
    kinds = {f.external_id: (f.kind, f.reason) for f in result.failed}
    assert kinds[A][0] is FailureKind.PERMANENT and "not applied" in kinds[A][1]
    assert kinds[B][0] is FailureKind.PERMANENT and "infinite" in kinds[B][1]
    assert kinds[C][0] is FailureKind.TEMPORARY  # an unreadable answer: the next read tells


async def test_refusals_map_per_item_and_a_refused_token_stops_the_batch(
    session: aiohttp.ClientSession,
) -> None:
    changes = [Change(x, Availability(False, 0)) for x in (A, B, C)]
    with aioresponses() as m:
        m.patch(url(A), status=400, payload=fixture("error"))
        m.patch(url(B), status=404, payload={"code": "resource_not_found", "message": "Requested resource"})
        for _ in range(3):
            m.patch(url(C), status=502)
        mixed = await reconciler(session).apply(changes)
        m.patch(url(A), status=401, payload={"code": "not_authorized", "message": "Request not authorized"})
        refused = await reconciler(session).apply(changes)
        made = list(sent(m))
    kinds = {f.external_id: f.kind for f in mixed.failed}
    assert kinds == {A: FailureKind.PERMANENT, B: FailureKind.PERMANENT, C: FailureKind.TEMPORARY}
    assert (
        "validation_error" not in mixed.failed[0].reason and "finite inventory type" in mixed.failed[0].reason
    )
    assert [f.kind for f in refused.failed] == [FailureKind.AUTH] * 3
    assert "not sent" in refused.failed[1].reason
    assert len(made) == 1 + 1 + 3 + 1  # after the 401 nothing else of the store was sent
    assert all(TOKEN not in f.reason for f in mixed.failed + refused.failed)


async def test_apply_never_takes_more_than_its_limit(session: aiohttp.ClientSession) -> None:
    too_many = [Change(f"{i:024x}", Availability(False, 0)) for i in range(51)]
    with aioresponses() as m, pytest.raises(ValueError, match="max_write_batch"):
        await reconciler(session).apply(too_many)
    assert not m.requests


def signed(body: bytes, *, at_ms: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if at_ms is None else at_ms)
    signature = hmac.new(secret.encode(), stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-webflow-timestamp": stamp, "x-webflow-signature": signature}


def test_webhook_signature_timestamp_and_secret() -> None:
    body = json.dumps(fixture("webhook")).encode()
    r = offline()
    now = int(time.time() * 1000)
    assert r.verify_webhook(signed(body), body) is True
    assert r.verify_webhook({k.upper(): v for k, v in signed(body).items()}, body) is True
    assert r.verify_webhook(signed(body), body + b" ") is False
    assert r.verify_webhook(signed(body, secret="another-secret"), body) is False
    assert r.verify_webhook(signed(body, at_ms=now - 6 * 60 * 1000), body) is False  # a replay
    assert r.verify_webhook(signed(body, at_ms=now + 6 * 60 * 1000), body) is False
    assert r.verify_webhook(signed(body, at_ms=now - 4 * 60 * 1000), body) is True
    headers = signed(body)
    assert r.verify_webhook({"x-webflow-signature": headers["x-webflow-signature"]}, body) is False
    assert r.verify_webhook(headers | {"x-webflow-timestamp": "１２３"}, body) is False  # not ASCII digits
    assert r.verify_webhook(headers | {"x-webflow-timestamp": "9" * 40}, body) is False
    body_only = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # the timestamp is signed too
    assert r.verify_webhook(headers | {"x-webflow-signature": body_only}, body) is False
    assert r.verify_webhook({}, body) is False  # a dashboard webhook: unsigned
    no_secret = offline(Secret("c", json.dumps({"access_token": TOKEN})))
    assert no_secret.verify_webhook(signed(body), body) is False


def test_parse_inventory_changed() -> None:
    body = json.dumps(fixture("webhook")).encode()
    notification = offline().parse_webhook(signed(body, at_ms=1_765_000_000_123), body)
    assert notification == [Observed("5bfedb42bab0ad90fa7dad39", True, 83)]
    assert notification.occurred_at == datetime(2025, 12, 6, 5, 46, 40, 123000, tzinfo=UTC)
    assert notification.delivery_id is None and not notification.reread
    infinite = {"triggerType": "ecomm_inventory_changed", "payload": {"id": A, "inventoryType": "infinite"}}
    [item] = offline().parse_webhook({}, json.dumps(infinite).encode())
    assert item.external_id == A and item.problem == INFINITE_PROBLEM
    order = {"triggerType": "ecomm_new_order", "payload": {"orderId": "dfa-3f1"}}
    assert offline().parse_webhook({}, json.dumps(order).encode()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"payload": {}}', "triggerType"),
        (b'{"triggerType": "ecomm_inventory_changed"}', "payload"),
        (b'{"triggerType": "ecomm_inventory_changed", "payload": {"quantity": 1}}', "payload.id"),
        (b'{"triggerType": "ecomm_inventory_changed", "payload": {"id": "../x"}}', "payload.id"),
        (
            b'{"triggerType": "ecomm_inventory_changed", "payload": {"id": "5bfedb42bab0ad90fa7dad39"}}',
            "payload.inventoryType",
        ),
        (
            b'{"triggerType": "ecomm_inventory_changed", "payload": {"id": "5bfedb42bab0ad90fa7dad39",'
            b' "inventoryType": "finite", "quantity": "lots"}}',
            "payload.quantity",
        ),
        (
            b'{"triggerType": "ecomm_inventory_changed", "payload": {"id": "5bfedb42bab0ad90fa7dad39",'
            b' "inventoryType": "finite", "quantity": 1e400}}',
            "payload.quantity",
        ),
    ],
)
def test_parse_webhook_names_the_bad_field(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        offline().parse_webhook({}, body)
    assert caught.value.field == field


def test_parse_webhook_refuses_a_bad_timestamp() -> None:
    body = json.dumps(fixture("webhook")).encode()
    for stamp in ("soon", "9" * 15):
        with pytest.raises(InputError) as caught:
            offline().parse_webhook({"x-webflow-timestamp": stamp}, body)
        assert caught.value.field == "x-webflow-timestamp"


def test_settings_credentials_and_declared_facts() -> None:
    with pytest.raises(ConfigError, match=r"stores\.w1\.settings\.sku_collection_id"):
        offline(sku_collection_id="")
    with pytest.raises(ConfigError, match="24 hexadecimal digits"):
        offline(sku_collection_id="skus?x=1")
    with pytest.raises(ConfigError, match="requests_per_minute"):
        offline(requests_per_second=2)  # Webflow counts per minute: one name for its unit
    with pytest.raises(ConfigError, match="requests_per_minute"):
        offline(requests_per_minute=0)
    with pytest.raises(ConfigError, match="batch_limit"):
        offline(batch_limit=10)  # one SKU per request: nothing to refine
    with pytest.raises(ConfigError, match="https"):
        offline(base_url="http://api.webflow.example/v2")  # the token travels with every request
    with pytest.raises(CredentialError, match="access_token") as caught:
        offline(Secret("c", json.dumps({"webhook_secret": SECRET})))
    assert SECRET not in str(caught.value)
    caps = WebflowReconciler.capabilities
    assert caps.rate_budget.requests_per_second * 60 == pytest.approx(60)  # the documented default
    assert caps.rate_budget.burst == 1 and caps.rate_budget.remaining_header == "X-RateLimit-Remaining"
    plan = offline(requests_per_minute=120).capabilities.rate_budget
    assert plan.requests_per_second == pytest.approx(2.0) and plan.windows[0].requests == 120
    assert caps.stock_model is StockModel.QUANTITY and not caps.compare_and_set
    assert caps.write_unit is WriteUnit.ITEM and caps.max_read_batch == 1
    assert caps.unit_of(Change(A, Availability(True, 1))) != caps.unit_of(Change(B, Availability(True, 1)))
    assert (
        offline(base_url="http://127.0.0.1:8080/v2")._inventory_url(A).startswith("http://127.0.0.1:8080/v2/")
    )


async def test_a_token_quoted_back_by_the_platform_is_redacted(session: aiohttp.ClientSession) -> None:
    echoed = {"code": "not_authorized", "message": f"token {TOKEN} is not valid for this site"}
    with aioresponses() as m:
        m.patch(url(A), status=401, payload=echoed)
        result = await reconciler(session).apply([Change(A, Availability(False, 0))])
    [failure] = result.failed
    assert failure.kind is FailureKind.AUTH and TOKEN not in failure.reason and "***" in failure.reason


@pytest.mark.parametrize("per_minute", [None, 120])
def test_the_pace_keeps_every_minute_within_the_plan(per_minute: int | None) -> None:
    settings: dict[str, Any] = {} if per_minute is None else {"requests_per_minute": per_minute}
    budget = offline(**settings).capabilities.rate_budget
    limit = per_minute or 60  # the documented default
    times = run_virtual(lambda: completion_times(build_pacer(budget), 3 * limit))
    busiest = max(sum(1 for t in times if start <= t < start + 60) for start in times)
    assert busiest == limit  # the whole budget is used, never more in any 60-second window
