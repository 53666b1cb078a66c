"""SquarespaceReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, StoreRules, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.capabilities import StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer, build_pacer
from reconcilers.squarespace import USER_AGENT, SquarespaceReconciler
from reconcilers.squarespace_items import SELLS_UNLIMITED
from reconcilers.transport import AuthError, Response, RetryPolicy, TemporaryError, Transport

FIXTURES = Path(__file__).parent / "fixtures" / "squarespace"
KEY = "sqsp-api-key-0123456789"
CREDENTIAL = Secret("sqsp", json.dumps({"access_token": KEY}))
INVENTORY = "https://api.squarespace.com/1.0/commerce/inventory"
ADJUST = f"{INVENTORY}/adjustments"
OIL, CACAO, TEA, MUG = (
    "cdf29b1e-01c2-4931-a3f9-7c0568daff23",
    "7eb25f50-4a0a-4e86-ac7c-cc1d49347bb4",
    "185db2da-c3cf-47f3-8aff-0485082792a5",
    "3afec275-5c9e-4167-93a7-17c01bba1ae2",
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession,
    credential: Secret = CREDENTIAL,
    pacer: Any = None,
    attempts: int = 3,
    **settings: Any,
) -> SquarespaceReconciler:
    store = StoreConfig(
        "q1", "squarespace", "europe", "sqsp", rules=StoreRules(pod_quantity=25), settings=settings
    )
    transport = Transport(
        session,
        platform="squarespace",
        store_id="q1",
        pacer=pacer or LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=attempts, base_delay=0.001, max_delay=0.01),
    )
    return SquarespaceReconciler(ReconcilerContext(store, transport, credential))


def variants(*ids: str, ref: dict[str, Any] | None = None) -> list[SyncedVariant]:
    return [SyncedVariant("q1", i, f"up-{i}", ref) for i in ids]


def sent(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return mocked.requests.get((method, URL(url)), [])


def change(
    external_id: str,
    available: bool,
    quantity: int | None = None,
    *,
    shown: Availability | None = None,
    **ref: Any,
) -> Change:
    return Change(external_id, Availability(available, quantity), shown, ref or None)


async def test_observe_looks_the_variants_up_by_id_with_the_required_headers(
    session: aiohttp.ClientSession,
) -> None:
    url = f"{INVENTORY}/{OIL},{CACAO},{TEA},{MUG}"
    with aioresponses() as m:
        m.get(url, payload=fixture("full"))
        got = await reconciler(session).observe(variants(OIL, CACAO, TEA, MUG))
    [call] = sent(m, "GET", url)
    assert call.kwargs["headers"] == {"Authorization": f"Bearer {KEY}", "User-Agent": USER_AGENT}
    by_id = {o.external_id: o for o in got}
    assert by_id[OIL] == Observed(OIL, True, 34, {SELLS_UNLIMITED: False})
    # unlimited: sells without a count; its `quantity` (the last count before) is never read as stock
    assert by_id[CACAO] == Observed(CACAO, True, None, {SELLS_UNLIMITED: True}, unlimited=True)
    assert by_id[TEA] == Observed(TEA, False, 0, {SELLS_UNLIMITED: False})
    assert "3000000000" in (by_id[MUG].problem or "")
    assert by_id[MUG].quantity is None


async def test_minimal_zero_and_untracked_answers(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{OIL}", payload=fixture("minimal"))
        m.get(f"{INVENTORY}/{OIL},{TEA}", payload=fixture("zero"))
        m.get(f"{INVENTORY}/{CACAO},f4334e47-9d8a-4e0f-8a6e-4b9c2c3e1d11", payload=fixture("untracked"))
        minimal = await reconciler(session).observe(variants(OIL))
        zero = await reconciler(session).observe(variants(OIL, TEA))
        untracked = await reconciler(session).observe(variants(CACAO, "f4334e47-9d8a-4e0f-8a6e-4b9c2c3e1d11"))
    assert [(o.available, o.quantity) for o in minimal] == [(True, 1)]
    assert sorted((o.available, o.quantity) for o in zero) == [(False, 0), (False, 0)]
    assert [(o.available, o.quantity, o.unlimited) for o in untracked] == [(True, None, True)] * 2


async def test_a_variant_we_hold_at_zero_remembers_it_sold_unlimited(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{OIL},{TEA}", payload=fixture("zero"))
        got = await reconciler(session).observe([*variants(OIL, ref={SELLS_UNLIMITED: True}), *variants(TEA)])
    assert {o.external_id: o.platform_ref for o in got} == {
        OIL: {SELLS_UNLIMITED: True},
        TEA: {SELLS_UNLIMITED: False},
    }


async def test_lookups_take_fifty_ids_each(session: aiohttp.ClientSession) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(120)]
    pattern = re.compile(re.escape(INVENTORY) + r"/[0-9a-f,-]+$")
    with aioresponses() as m:
        m.get(pattern, payload={"inventory": []}, repeat=True)
        assert await reconciler(session).observe(variants(*ids)) == []
    urls = [str(url) for (method, url) in m.requests if method == "GET"]
    assert sorted(url.count(",") + 1 for url in urls) == [20, 50, 50]


async def test_an_unknown_id_404s_the_lookup_which_is_halved_to_find_it(
    session: aiohttp.ClientSession,
) -> None:
    gone = "00000000-0000-4000-8000-000000000404"
    answers = {
        (OIL, CACAO, TEA, gone): None,
        (OIL, CACAO): [OIL, CACAO],
        (TEA, gone): None,
        (TEA,): [TEA],
        (gone,): None,
    }
    full = {item["variantId"]: item for item in fixture("full")["inventory"]}
    with aioresponses() as m:
        for ids, found in answers.items():
            url = f"{INVENTORY}/{','.join(ids)}"
            if found is None:
                m.get(url, status=404, payload=fixture("error"))
            else:
                m.get(url, payload={"inventory": [full[i] for i in found]})
        got = await reconciler(session).observe(variants(OIL, CACAO, TEA, gone))
    assert sorted(o.external_id for o in got) == sorted([OIL, CACAO, TEA])  # the unknown one: not found
    order = [str(url).removeprefix(INVENTORY + "/") for (method, url) in m.requests]
    assert order == [",".join(ids) for ids in answers]  # each lookup once, none of the listing


async def test_past_the_halving_budget_the_listing_is_walked_once(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconcilers.squarespace.LOOKUP_SPLITS", 0)
    first = [OIL, *(f"00000000-0000-4000-8000-{n:012d}" for n in range(49))]
    second = [CACAO, "00000000-0000-4000-8000-000000000999"]
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{','.join(first)}", status=404, payload=fixture("error"))
        m.get(f"{INVENTORY}/{','.join(second)}", status=404, payload=fixture("error"))
        m.get(INVENTORY, payload=fixture("listing_page1"))
        m.get(f"{INVENTORY}?cursor=b342f5367c664d3c99aa56f44f95ab0a", payload=fixture("listing_page2"))
        got = await reconciler(session).observe(variants(*first, *second))
    assert {o.external_id: (o.available, o.quantity) for o in got} == {OIL: (True, 34), CACAO: (True, None)}
    assert len(sent(m, "GET", INVENTORY)) == 1  # the second 404 uses the listing already walked
    [page2] = sent(m, "GET", f"{INVENTORY}?cursor=b342f5367c664d3c99aa56f44f95ab0a")
    assert page2.kwargs["params"] == {"cursor": "b342f5367c664d3c99aa56f44f95ab0a"}


async def test_ids_that_cannot_be_variant_ids_are_problems_without_a_request(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses():
        got = await reconciler(session).observe(variants("a,b", "../x", ""))
    assert [o.problem is not None and CANNOT_ENFORCE in (o.platform_ref or {}) for o in got] == [True] * 3


async def test_malformed_answers_are_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{OIL}", payload={"inventory": {"not": "a list"}})
        with pytest.raises(TemporaryError):
            await reconciler(session).observe(variants(OIL))
        m.get(
            f"{INVENTORY}/{OIL}",
            payload={"inventory": [{"variantId": OIL, "isUnlimited": "no", "quantity": 1}]},
        )
        [odd] = await reconciler(session).observe(variants(OIL))
    assert odd.problem is not None and "isUnlimited" in odd.problem


async def test_a_refused_credential_is_an_auth_error(session: aiohttp.ClientSession) -> None:
    body = {
        "type": "AUTHORIZATION_ERROR",
        "subtype": None,
        "message": "Bad key",
        "details": None,
        "contextId": "X",
    }
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{OIL}", status=401, payload=body)
        with pytest.raises(AuthError) as caught:
            await reconciler(session).observe(variants(OIL))
    assert "401" in str(caught.value) and KEY not in str(caught.value)


async def test_status_mode_writes_absolute_counts_with_an_idempotency_key(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.post(ADJUST, status=204)
        result = await reconciler(session).apply(
            [
                change(OIL, False, shown=Availability(True, 34)),
                change(TEA, True, shown=Availability(False, 0)),
            ]
        )
    [call] = sent(m, "POST", ADJUST)
    assert call.kwargs["json"] == {
        "setFiniteOperations": [{"variantId": OIL, "quantity": 0}, {"variantId": TEA, "quantity": 25}]
    }
    headers = call.kwargs["headers"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", headers["Idempotency-Key"])
    assert headers["User-Agent"] == USER_AGENT and headers["Authorization"] == f"Bearer {KEY}"
    assert result.failed == ()
    assert [(o.external_id, o.available, o.quantity) for o in result.confirmed] == [
        (OIL, False, 0),
        (TEA, True, 25),
    ]


async def test_quantity_mode_writes_the_count_and_the_in_stock_setting_is_used(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.post(ADJUST, status=204)
        m.post(ADJUST, status=204)
        await reconciler(session).apply([change(OIL, True, 7), change(TEA, False, 0)])
        await reconciler(session, in_stock_quantity=3).apply([change(OIL, True)])
    first, second = sent(m, "POST", ADJUST)
    assert first.kwargs["json"] == {
        "setFiniteOperations": [{"variantId": OIL, "quantity": 7}, {"variantId": TEA, "quantity": 0}]
    }
    assert second.kwargs["json"] == {"setFiniteOperations": [{"variantId": OIL, "quantity": 3}]}
    assert first.kwargs["headers"]["Idempotency-Key"] != second.kwargs["headers"]["Idempotency-Key"]


async def test_an_unlimited_variant_is_never_made_finite_by_a_status_write(
    session: aiohttp.ClientSession,
) -> None:
    unlimited = Availability(True, None, unlimited=True)
    with aioresponses() as m:
        m.post(ADJUST, status=204)
        m.post(ADJUST, status=204)
        held = await reconciler(session).apply([change(CACAO, False, shown=unlimited)])
        back = await reconciler(session).apply(
            [
                change(CACAO, True, shown=Availability(False, 0), **{SELLS_UNLIMITED: True}),
                change(OIL, True, shown=unlimited),
            ]
        )
    first, second = sent(m, "POST", ADJUST)
    assert first.kwargs["json"] == {"setFiniteOperations": [{"variantId": CACAO, "quantity": 0}]}
    assert held.confirmed[0].platform_ref == {SELLS_UNLIMITED: True}  # remembered while held at 0
    assert second.kwargs["json"] == {"setUnlimitedOperations": [CACAO, OIL]}
    assert [(o.available, o.quantity, o.unlimited) for o in back.confirmed] == [(True, None, True)] * 2


async def test_a_refused_batch_is_halved_so_only_the_refused_variant_fails(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.post(ADJUST, status=400, payload=fixture("error"))  # [OIL, TEA, MUG]
        m.post(ADJUST, status=204)  # [OIL]
        m.post(ADJUST, status=400, payload=fixture("error"))  # [TEA, MUG]
        m.post(ADJUST, status=400, payload=fixture("error"))  # [TEA]
        m.post(ADJUST, status=204)  # [MUG]
        result = await reconciler(session).apply([change(OIL, False), change(TEA, False), change(MUG, False)])
    bodies = [
        [op["variantId"] for op in c.kwargs["json"]["setFiniteOperations"]] for c in sent(m, "POST", ADJUST)
    ]
    assert bodies == [[OIL, TEA, MUG], [OIL], [TEA, MUG], [TEA], [MUG]]
    keys = [c.kwargs["headers"]["Idempotency-Key"] for c in sent(m, "POST", ADJUST)]
    assert len(set(keys)) == 5  # a new body never reuses a key
    assert sorted(o.external_id for o in result.confirmed) == sorted([OIL, MUG])
    [failure] = result.failed
    assert failure.external_id == TEA and failure.kind is FailureKind.PERMANENT
    assert "was not found" in failure.reason


async def test_a_conflict_is_temporary_and_a_refused_key_stops_the_batch(
    session: aiohttp.ClientSession,
) -> None:
    conflict = {"type": "CONFLICT", "subtype": "CONCURRENT_MODIFICATION", "message": "Busy", "details": None}
    with aioresponses() as m:
        m.post(ADJUST, status=409, payload=conflict)
        m.post(ADJUST, status=403, payload={"type": "AUTHORIZATION_ERROR", "message": "Scope missing"})
        busy = await reconciler(session).apply([change(OIL, False), change(TEA, False)])
        refused = await reconciler(session).apply([change(OIL, False), change(TEA, False)])
    assert [f.kind for f in busy.failed] == [FailureKind.TEMPORARY] * 2
    assert [f.kind for f in refused.failed] == [FailureKind.AUTH] * 2
    assert len(sent(m, "POST", ADJUST)) == 2  # neither is split


async def test_a_retried_write_repeats_its_idempotency_key(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.post(ADJUST, status=503, payload={"type": "SERVICE_UNAVAILABLE", "message": "later"})
        m.post(ADJUST, status=204)
        result = await reconciler(session).apply([change(OIL, False)])
    first, retry = sent(m, "POST", ADJUST)
    assert first.kwargs["headers"]["Idempotency-Key"] == retry.kwargs["headers"]["Idempotency-Key"]
    assert first.kwargs["json"] == retry.kwargs["json"]
    assert result.failed == ()


class RecordingPacer(LeakyBucketPacer):
    def __init__(self) -> None:
        budget = SquarespaceReconciler.capabilities.rate_budget
        super().__init__(1000, 1000, windows=budget.windows, remaining_header=budget.remaining_header)
        self.penalties: list[float] = []

    def penalize(self, delay_s: float) -> None:
        self.penalties.append(delay_s)


async def test_a_429_holds_the_store_for_the_one_minute_cool_down(session: aiohttp.ClientSession) -> None:
    pacer = RecordingPacer()
    with aioresponses() as m:
        m.get(f"{INVENTORY}/{OIL}", status=429, payload={"type": "TOO_MANY_REQUESTS", "message": "Slow down"})
        with pytest.raises(TemporaryError) as caught:  # one attempt: no minute-long wait in a unit test
            await reconciler(session, pacer=pacer, attempts=1).observe(variants(OIL))
    # the whole minute from the 429 (not the rest of a round minute), for every request of the store
    assert pacer.penalties == [pytest.approx(60.5)]
    assert caught.value.retry_after == pytest.approx(60.5)


def test_capabilities_state_the_documented_facts() -> None:
    caps = SquarespaceReconciler.capabilities
    assert caps.stock_model is StockModel.QUANTITY
    assert (caps.max_read_batch, caps.max_write_batch) == (50, 50)
    assert caps.rate_budget.requests_per_second * 60 == pytest.approx(300)
    assert caps.rate_budget.remaining_header is None
    assert build_pacer(caps.rate_budget).after_throttle(0) == pytest.approx(60.5)
    assert caps.webhook_scheme is None and not caps.compare_and_set
    assert "isUnlimited" in (caps.unlimited or "")
    pacer = build_pacer(caps.rate_budget)
    pacer.feed(Response(200, {}, None, INVENTORY))  # no budget header to read


def test_settings_and_credentials(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="batch_limit"):
        reconciler(session, batch_limit=51)
    with pytest.raises(ConfigError, match="https"):
        reconciler(session, base_url="http://api.example.test")
    with pytest.raises(ConfigError, match="page_size"):
        reconciler(session, page_size=10)
    assert reconciler(session, batch_limit=20).capabilities.max_write_batch == 20
    plain = reconciler(session, credential=Secret("sqsp", KEY))  # a bare API key is the token
    assert plain.capabilities.platform == "squarespace"


def test_store_notifications_are_refused_saying_why(session: aiohttp.ClientSession) -> None:
    body = b'{"id": "1", "topic": "order.create", "data": {}}'
    for call in (reconciler(session).verify_webhook, reconciler(session).parse_webhook):
        with pytest.raises(InputError) as caught:
            call({"Squarespace-Signature": "00"}, body)
        assert "full passes" in str(caught.value) and "order.create" in str(caught.value)
