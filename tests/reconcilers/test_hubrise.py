"""HubRiseReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, Observed, StoreConfig, SyncedVariant
from reconcilers.capabilities import StockModel
from reconcilers.hubrise import HubRiseReconciler
from reconcilers.hubrise_entries import entry_for, parse_external_id
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import Transport
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "hubrise"
TOKEN, CLIENT_SECRET = "hr-access-token-0123", "hr-client-secret-4567"
CREDENTIAL = Secret("hubrise-loc", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
URL_INV = "https://api.hubrise.com/v1/catalogs/87yu4/locations/3r4s3-1/inventory"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, **settings: Any
) -> HubRiseReconciler:
    store = StoreConfig(
        "h1",
        "hubrise",
        "europe",
        "hubrise-loc",
        settings={"catalog_id": "87yu4", "location_id": "3r4s3-1", **settings},
    )
    transport = quick_transport(session, "hubrise", "h1")
    return HubRiseReconciler(ReconcilerContext(store, transport, credential))


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("h1", i, f"up-{i}") for i in ids]


def calls(mocked: aioresponses, method: str) -> list[Any]:
    return mocked.requests.get((method, URL(URL_INV)), [])


def sign(body: bytes, secret: str = CLIENT_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_observe_reads_the_whole_inventory_once_and_maps_entries(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(URL_INV, payload=fixture("full"))
        got = await reconciler(session).observe(
            variants("sku:COKE", "sku:PEPSI", "option:EGG", "sku:FLOUR", "sku:UNLISTED", "bad-id")
        )
    assert got == [
        Observed("sku:COKE", True, 3),
        Observed("sku:PEPSI", False, 0),
        Observed("option:EGG", True, 1),
        Observed("sku:FLOUR", True, 3),  # "2.500": sellable, never equal to a written 2
        Observed("sku:UNLISTED", True, None, unlimited=True),  # absent from the inventory = unlimited
    ]
    (call,) = calls(m, "GET")
    assert call.kwargs["headers"] == {"X-Access-Token": TOKEN}
    assert call.kwargs["json"] is None and call.kwargs["params"] is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "minimal",
            [
                Observed("sku:COKE", True, None, unlimited=True),
                Observed("option:EGG", True, None, unlimited=True),
            ],
        ),
        ("zero", [Observed("sku:COKE", False, 0), Observed("option:EGG", False, 0)]),
        (
            "untracked",
            [
                Observed("sku:COKE", True, None, unlimited=True),
                Observed("option:EGG", True, None, unlimited=True),
            ],
        ),
    ],
)
async def test_observe_shapes(session: aiohttp.ClientSession, name: str, expected: list[Observed]) -> None:
    with aioresponses() as m:
        m.get(URL_INV, payload=fixture(name))
        assert await reconciler(session).observe(variants("sku:COKE", "option:EGG")) == expected


async def test_observe_without_valid_ids_sends_nothing(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        assert await reconciler(session).observe(variants("COKE", "sku:", "variant:X")) == []
        assert calls(m, "GET") == []


async def test_observe_retries_5xx_and_a_429(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL_INV, status=503)
        m.get(URL_INV, status=429, headers={"Retry-After": "0"}, payload={"error_type": "too_many_requests"})
        m.get(URL_INV, payload=fixture("zero"))
        assert await reconciler(session).observe(variants("sku:COKE")) == [Observed("sku:COKE", False, 0)]
        assert len(calls(m, "GET")) == 3


async def test_apply_patches_absolute_entries_in_both_modes(session: aiohttp.ClientSession) -> None:
    changes = [
        Change("sku:COKE", Availability(False, None)),  # status mode, unavailable → "0"
        Change("option:EGG", Availability(True, None)),  # status mode, available → remove (unlimited)
        Change("sku:PEPSI", Availability(True, 12)),  # quantity mode
        Change("sku:FANTA", Availability(False, 0)),
    ]
    with aioresponses() as m:
        # PATCH answers the modified entries only; the removed EGG entry is not listed
        m.patch(URL_INV, payload=[{"sku_ref": "COKE", "stock": "0"}, {"sku_ref": "PEPSI", "stock": "12"}])
        # absent from the answer: one read tells whether they hold what we sent
        m.get(URL_INV, payload=[{"sku_ref": "FANTA", "stock": "0"}, {"sku_ref": "PEPSI", "stock": "12"}])
        result = await reconciler(session).apply(changes)
    (call,) = calls(m, "PATCH")
    assert call.kwargs["headers"] == {"X-Access-Token": TOKEN}
    assert call.kwargs["json"] == [
        {"sku_ref": "COKE", "stock": "0"},
        {"option_ref": "EGG", "stock": None},
        {"sku_ref": "PEPSI", "stock": "12"},
        {"sku_ref": "FANTA", "stock": "0"},
    ]
    assert result.failed == ()
    assert result.confirmed == (
        Observed("sku:COKE", False, 0),
        Observed("option:EGG", True, None, unlimited=True),
        Observed("sku:PEPSI", True, 12),
        Observed("sku:FANTA", False, 0),
    )


async def test_apply_accepts_the_older_204_answer(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.patch(URL_INV, status=204, body=b"")
        result = await reconciler(session).apply([Change("sku:COKE", Availability(True, 4))])
    assert result.confirmed == (Observed("sku:COKE", True, 4),)


async def test_apply_sends_one_patch_never_splits_and_refuses_bad_ids(session: aiohttp.ClientSession) -> None:
    changes = [Change(f"sku:S{i}", Availability(False, 0)) for i in range(4)] + [
        Change("no-kind", Availability(False, 0))
    ]
    with aioresponses() as m:
        m.patch(URL_INV, status=200, payload=[{"sku_ref": f"S{i}", "stock": "0"} for i in range(4)])
        result = await reconciler(session, batch_limit=5).apply(changes)
        with pytest.raises(ValueError, match="max_write_batch"):
            await reconciler(session, batch_limit=4).apply(changes)
    assert [len(c.kwargs["json"]) for c in calls(m, "PATCH")] == [4]
    assert len(result.confirmed) == 4
    (failure,) = result.failed
    assert failure.external_id == "no-kind" and failure.permanent


async def test_an_entry_missing_from_the_patch_answer_is_not_recorded_as_written(
    session: aiohttp.ClientSession,
) -> None:
    changes = [
        Change("sku:KNOWN", Availability(True, 5)),
        Change("sku:NOT-IN-CATALOG", Availability(True, 5)),
    ]
    with aioresponses() as m:
        m.patch(URL_INV, payload=[{"sku_ref": "KNOWN", "stock": "5"}])  # only what it changed
        m.get(URL_INV, payload=[{"sku_ref": "KNOWN", "stock": "5"}])
        result = await reconciler(session).apply(changes)
    assert result.confirmed == (Observed("sku:KNOWN", True, 5),)
    (failure,) = result.failed
    assert failure.external_id == "sku:NOT-IN-CATALOG" and failure.permanent
    assert "not applied" in failure.reason


async def test_fractional_stock_is_sellable_and_never_rounded_into_sync(
    session: aiohttp.ClientSession,
) -> None:
    inventory = [{"sku_ref": "HALF", "stock": "0.5"}, {"sku_ref": "ZERO", "stock": "0.000"}]
    inventory.append({"sku_ref": "TWO", "stock": "2.001"})
    with aioresponses() as m:
        m.get(URL_INV, payload=inventory)
        got = await reconciler(session).observe(variants("sku:HALF", "sku:ZERO", "sku:TWO"))
    # a written "0" or "2" must not compare equal to what the store sells
    assert got == [
        Observed("sku:HALF", True, 1),
        Observed("sku:ZERO", False, 0),
        Observed("sku:TWO", True, 3),
    ]


async def test_a_huge_stock_is_a_per_item_problem_and_never_blocks(session: aiohttp.ClientSession) -> None:
    inventory = [{"sku_ref": "TYPO", "stock": "3000000000"}, {"sku_ref": "OK", "stock": "4"}]
    inventory.append({"sku_ref": "HOSTILE", "stock": "1e999999999"})  # unreadable entry: skipped
    with aioresponses() as m:
        m.get(URL_INV, payload=inventory)
        got = await reconciler(session).observe(variants("sku:TYPO", "sku:OK"))
    assert got[1] == Observed("sku:OK", True, 4)
    assert got[0].external_id == "sku:TYPO" and got[0].available is None
    assert got[0].problem is not None and "3000000000" in got[0].problem


async def test_whole_request_failures_fail_every_item(session: aiohttp.ClientSession) -> None:
    changes = [Change("sku:A", Availability(False, 0)), Change("sku:B", Availability(True, None))]
    with aioresponses() as m:
        for _ in range(3):  # the batch, then each half: all refused
            m.patch(URL_INV, status=422, payload=fixture("error"))
        refused = await reconciler(session).apply(changes)
        m.patch(URL_INV, status=401, payload={"error_type": "unauthorized", "message": "Invalid token"})
        unauthorized = await reconciler(session).apply(changes)
        for _ in range(3):
            m.patch(URL_INV, status=502)
        flaky = await reconciler(session).apply(changes)
    assert [f.permanent for f in refused.failed] == [True, True]
    assert "422" in refused.failed[0].reason and "Validation failed" in refused.failed[0].reason
    assert [f.permanent for f in unauthorized.failed] == [True, True]
    assert "401" in unauthorized.failed[0].reason
    assert [f.permanent for f in flaky.failed] == [False, False]
    assert all(TOKEN not in f.reason for f in refused.failed + unauthorized.failed + flaky.failed)


async def test_a_refused_batch_is_halved_to_write_the_good_entries(session: aiohttp.ClientSession) -> None:
    changes = [Change(f"sku:S{i}", Availability(False, 0)) for i in range(4)]
    with aioresponses() as m:
        m.patch(URL_INV, status=422, payload=fixture("error"))  # S0..S3
        m.patch(URL_INV, status=200, payload=[{"sku_ref": "S0", "stock": "0"}])  # S0, S1
        m.get(URL_INV, payload=[{"sku_ref": "S1", "stock": "0"}])  # S1 was already "0"
        m.patch(URL_INV, status=422, payload=fixture("error"))  # S2, S3
        m.patch(URL_INV, status=200, payload=[])  # S2 (already "0": not modified)
        m.get(URL_INV, payload=[{"sku_ref": "S1", "stock": "0"}, {"sku_ref": "S2", "stock": "0"}])
        m.patch(URL_INV, status=422, payload=fixture("error"))  # S3
        result = await reconciler(session).apply(changes)
        bodies = [c.kwargs["json"] for c in calls(m, "PATCH")]
    assert [[e["sku_ref"] for e in body] for body in bodies] == [
        ["S0", "S1", "S2", "S3"],
        ["S0", "S1"],
        ["S2", "S3"],
        ["S2"],
        ["S3"],
    ]
    assert [o.external_id for o in result.confirmed] == ["sku:S0", "sku:S1", "sku:S2"]
    assert [(f.external_id, f.permanent) for f in result.failed] == [("sku:S3", True)]


async def test_halving_stops_at_its_request_budget(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconcilers.hubrise.SPLIT_REQUESTS", 2)
    changes = [Change(f"sku:S{i}", Availability(False, 0)) for i in range(4)]
    with aioresponses() as m:
        for _ in range(3):
            m.patch(URL_INV, status=422, payload=fixture("error"))
        result = await reconciler(session).apply(changes)
        sent = len(calls(m, "PATCH"))
    assert sent == 3  # the batch and its two halves, no further halving
    assert len(result.failed) == 4 and all(f.permanent for f in result.failed)


def test_entry_mapping_and_external_ids() -> None:
    assert parse_external_id("sku:A:B") == ("sku", "A:B")
    assert parse_external_id("option:") is None and parse_external_id("product:X") is None
    assert entry_for(Change("option:X", Availability(True, 0))) == {"option_ref": "X", "stock": "0"}
    assert entry_for(Change("sku:X", Availability(False, 9))) == {"sku_ref": "X", "stock": "0"}


def test_webhook_verify_accepts_hex_hmac_and_rejects_tampering() -> None:
    body = json.dumps(fixture("webhook_patch")).encode()
    r = reconciler_offline()
    assert r.verify_webhook({"X-HubRise-Hmac-SHA256": sign(body)}, body) is True
    assert r.verify_webhook({"x-hubrise-hmac-sha256": sign(body)}, body) is True
    assert r.verify_webhook({"X-HubRise-Hmac-SHA256": sign(body)}, body + b" ") is False
    assert r.verify_webhook({"X-HubRise-Hmac-SHA256": sign(body, "other")}, body) is False
    b64 = base64.b64encode(bytes.fromhex(sign(body))).decode()
    assert r.verify_webhook({"X-HubRise-Hmac-SHA256": b64}, body) is False  # hex, not base64
    assert r.verify_webhook({}, body) is False
    no_secret = reconciler_offline(Secret("c", TOKEN))
    assert no_secret.verify_webhook({"X-HubRise-Hmac-SHA256": sign(body)}, body) is False


def test_parse_inventory_patch_event() -> None:
    body = json.dumps(fixture("webhook_patch")).encode()
    assert reconciler_offline().parse_webhook({}, body) == [
        Observed("sku:COKE", False, 0),
        Observed("option:EGG", True, None, unlimited=True),
        Observed("sku:PEPSI", True, 12),
    ]
    event = fixture("webhook_patch")
    update = {k: v for k, v in event.items() if k != "state_change"} | {"event_type": "update"}
    assert reconciler_offline().parse_webhook({}, json.dumps(update).encode()) == []
    elsewhere = event | {"location_id": "other-1"}
    assert reconciler_offline().parse_webhook({}, json.dumps(elsewhere).encode()) == []
    other_catalog = event | {"catalog_id": "other-catalog"}  # same location, another inventory
    assert reconciler_offline().parse_webhook({}, json.dumps(other_catalog).encode()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"resource_type": "order", "event_type": "create"}', "resource_type"),
        (b'{"resource_type": "inventory", "event_type": "delete"}', "event_type"),
        (b'{"resource_type": "inventory", "event_type": "patch"}', "state_change"),
        (
            b'{"resource_type": "inventory", "event_type": "patch", "state_change": [{"stock": "1"}]}',
            "state_change",
        ),
        (
            b'{"resource_type": "inventory", "event_type": "patch", "state_change": [{"sku_ref": "A", "stock": "x"}]}',
            "state_change",
        ),
    ],
)
def test_parse_webhook_names_the_bad_field(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        reconciler_offline().parse_webhook({}, body)
    assert caught.value.field == field


def test_settings_and_credentials_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"stores\.h1\.settings\.catalog_id"):
        reconciler_offline(catalog_id="")
    with pytest.raises(ConfigError, match="location_id"):
        reconciler_offline(location_id=None)
    with pytest.raises(ConfigError, match="base_url"):
        reconciler_offline(base_url="ftp://x")
    with pytest.raises(ConfigError, match="batch_limit"):
        reconciler_offline(batch_limit=0)
    with pytest.raises(ConfigError, match="requests_per_second"):
        reconciler_offline(requests_per_second="fast")
    with pytest.raises(CredentialError, match="access_token") as caught:
        reconciler_offline(Secret("c", json.dumps({"client_secret": CLIENT_SECRET})))
    assert CLIENT_SECRET not in str(caught.value)
    caps = reconciler_offline(batch_limit=50).capabilities
    assert caps.max_write_batch == 50 and caps.stock_model is StockModel.BOTH
    assert HubRiseReconciler.capabilities.max_write_batch == 500
    # paced at the documented hourly limit (2,500/h), the tightest one a steady pace can hit
    assert HubRiseReconciler.capabilities.rate_budget.requests_per_second * 3600 == pytest.approx(2500)
    assert reconciler_offline(requests_per_second=0.2).capabilities.rate_budget.requests_per_second == 0.2
    assert not HubRiseReconciler.capabilities.compare_and_set


def reconciler_offline(credential: Secret = CREDENTIAL, **settings: Any) -> HubRiseReconciler:
    """A reconciler whose transport is never used (webhooks, settings)."""
    base = {"catalog_id": "87yu4", "location_id": "3r4s3-1"}
    store = StoreConfig("h1", "hubrise", "europe", "hubrise-loc", settings=base | settings)
    transport = Transport(
        None,  # type: ignore[arg-type]  # never used by these tests
        platform="hubrise",
        store_id="h1",
        pacer=LeakyBucketPacer(1000, 1000),
    )
    return HubRiseReconciler(ReconcilerContext(store, transport, credential))


async def test_an_entry_of_ours_with_an_unreadable_stock_is_a_problem_not_unlimited(
    session: aiohttp.ClientSession,
) -> None:
    raw = (
        '[{"sku_ref": "A", "stock": 1e999}, {"sku_ref": "B", "stock": "-2"}, {"sku_ref": "C", "stock": "abc"},'
        ' {"sku_ref": "D", "stock": ' + "9" * 5000 + '}, {"sku_ref": "E", "stock": "1e999999999"},'
        ' {"sku_ref": "F", "stock": "2"}, {"stock": "oops"}]'
    )
    with aioresponses() as m:
        m.get(URL_INV, body=raw, content_type="application/json")
        got = await reconciler(session).observe(variants(*(f"sku:{r}" for r in "ABCDEFG")))
    by_id = {o.external_id: o for o in got}
    for ref in "ABCDE":
        item = by_id[f"sku:{ref}"]
        assert item.problem is not None and not item.unlimited and item.as_availability() is None, ref
        assert len(item.problem) < 200
    assert by_id["sku:F"] == Observed("sku:F", True, 2)
    assert by_id["sku:G"].unlimited  # no entry at all: unlimited
