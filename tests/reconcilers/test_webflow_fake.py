"""The Webflow fake behaves as Webflow documents it, and WebflowReconciler runs against it with every
request and answer checked against Webflow's OpenAPI file (zero violations)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer, build_pacer
from reconcilers.transport import AuthError, RetryPolicy, Transport
from reconcilers.webflow import WebflowReconciler
from tests.reconcilers.fakes.webflow_fake import Inventory, WebflowFake
from tests.reconcilers.fakes.webflow_spec import webflow_spec

TOKEN, SECRET = "fake-site-token", "fake-webhook-secret"
COLLECTION = "6377a7c4b7a79608c34a46f7"
CREDENTIAL = Secret("wf", json.dumps({"access_token": TOKEN, "webhook_secret": SECRET}))
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sku(number: int) -> str:
    return f"{number:024x}"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[WebflowFake, str]]:
    server = WebflowFake(TOKEN, SECRET, COLLECTION, spec=webflow_spec())
    server.rate_limit = 10_000
    base = await server.start()
    yield server, base
    await server.stop()


def build(
    session: aiohttp.ClientSession,
    base: str,
    pacer: Any = None,
    credential: Secret = CREDENTIAL,
    **settings: Any,
) -> WebflowReconciler:
    store = StoreConfig(
        "w1",
        "webflow",
        "europe",
        "wf",
        settings={"base_url": base, "sku_collection_id": COLLECTION, **settings},
    )
    transport = Transport(
        session,
        platform="webflow",
        store_id="w1",
        pacer=pacer or LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
    )
    return WebflowReconciler(ReconcilerContext(store, transport, credential))


def synced(*numbers: int) -> list[SyncedVariant]:
    return [SyncedVariant("w1", sku(n), f"u{n}") for n in numbers]


async def call(
    session: aiohttp.ClientSession, method: str, address: str, body: Any = None, headers: Any = AUTH
) -> tuple[int, Any, Any]:
    async with session.request(method, address, json=body, headers=headers) as answer:
        return answer.status, await answer.json(), answer.headers


# --- the fake, as documented ---------------------------------------------------------------------


async def test_auth_scopes_site_and_item_errors(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.skus[sku(1)] = Inventory("finite", 4)
    address = f"{base}/collections/{COLLECTION}/items/{sku(1)}/inventory"
    status, body, _ = await call(session, "GET", address, headers={"Authorization": "Bearer wrong"})
    assert (status, body["code"]) == (401, "not_authorized")
    assert set(body) == {"code", "message", "externalReference", "details"}
    assert (await call(session, "GET", address, headers={}))[0] == 401
    server.scopes = frozenset({"ecommerce:read"})
    status, body, _ = await call(session, "PATCH", address, {"inventoryType": "finite", "quantity": 1})
    assert (status, body["code"]) == (403, "missing_scopes")
    assert (await call(session, "GET", address))[0] == 200
    server.ecommerce_enabled = False
    assert (await call(session, "GET", address))[1]["code"] == "ecommerce_not_enabled"
    server.ecommerce_enabled = True
    other = f"{base}/collections/{'0' * 24}/items/{sku(1)}/inventory"
    assert (await call(session, "GET", other))[0] == 404
    assert (await call(session, "GET", address.replace(sku(1), sku(2))))[0] == 404
    # the request without any Authorization header is the one the spec refuses (its security)
    assert [("Security" in v) for v in server.violations] == ([True] if server.spec else [])


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 3},  # inventoryType is required
        {"inventoryType": "some", "quantity": 3},
        {"inventoryType": "infinite", "quantity": 3},  # quantity only with finite
        {"inventoryType": "finite", "quantity": 3, "updateQuantity": 1},  # one or the other
        {"inventoryType": "finite", "quantity": "3"},
    ],
)
async def test_a_patch_webflow_refuses_is_400_and_changes_nothing(
    session: aiohttp.ClientSession, fake: Any, body: dict[str, Any]
) -> None:
    server, base = fake
    server.spec = None  # these bodies are refused by the spec too: that is the point
    server.skus[sku(1)] = Inventory("finite", 4)
    address = f"{base}/collections/{COLLECTION}/items/{sku(1)}/inventory"
    status, answer, _ = await call(session, "PATCH", address, body)
    assert (status, answer["code"]) == (400, "validation_error")
    assert server.skus[sku(1)] == Inventory("finite", 4)


async def test_patch_absolute_delta_and_infinite(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.skus[sku(1)] = Inventory("finite", 4)
    address = f"{base}/collections/{COLLECTION}/items/{sku(1)}/inventory"
    status, answer, _ = await call(session, "PATCH", address, {"inventoryType": "finite", "quantity": 9})
    assert (status, answer) == (200, {"id": sku(1), "quantity": 9, "inventoryType": "finite"})
    await call(session, "PATCH", address, {"inventoryType": "finite", "updateQuantity": -2})
    assert server.skus[sku(1)].quantity == 7
    await call(session, "PATCH", address, {"inventoryType": "infinite"})
    assert (await call(session, "GET", address))[1]["inventoryType"] == "infinite"
    assert server.violations == []


async def test_the_minute_budget_its_headers_and_the_429(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    server.rate_limit = 3
    server.skus[sku(1)] = Inventory("finite", 1)
    address = f"{base}/collections/{COLLECTION}/items/{sku(1)}/inventory"
    remaining = [(await call(session, "GET", address))[2]["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    status, body, headers = await call(session, "GET", address)
    assert (status, body["code"], headers["Retry-After"]) == (429, "too_many_requests", "60")
    assert headers["X-RateLimit-Limit"] == "3" and headers["X-RateLimit-Remaining"] == "0"
    assert server.violations == []


async def test_the_fake_reports_what_the_spec_refuses(session: aiohttp.ClientSession, fake: Any) -> None:
    server, base = fake
    if server.spec is None:
        pytest.skip("../shared/specs/webflow/v2.yml is not beside this checkout")
    server.skus[sku(1)] = Inventory("finite", 4)
    address = f"{base}/collections/{COLLECTION}/items/{sku(1)}/inventory"
    await call(session, "PATCH", address, {"quantity": 3})  # no inventoryType
    assert len(server.violations) == 1 and "inventoryType" in server.violations[0]


async def test_the_fake_works_without_a_spec(session: aiohttp.ClientSession) -> None:
    server = WebflowFake(TOKEN, SECRET, COLLECTION)
    base = await server.start()
    try:
        server.skus[sku(1)] = Inventory("finite", 2)
        assert await build(session, base).observe(synced(1)) == [Observed(sku(1), True, 2)]
    finally:
        await server.stop()


# --- the reconciler through the fake, spec on -----------------------------------------------------


async def test_full_pass_write_throttle_and_errors_with_zero_spec_violations(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    for number in range(1, 6):
        server.skus[sku(number)] = Inventory("finite", number - 1)
    server.skus[sku(6)] = Inventory("infinite", 0)
    reconciler = build(session, base)
    seen = {o.external_id: o for o in await reconciler.observe(synced(*range(1, 8)))}  # 7 is not there
    assert server.stats.gets == 6 and sku(7) not in seen
    assert seen[sku(1)] == Observed(sku(1), False, 0) and seen[sku(6)].problem is not None

    server.throttle_next, server.retry_after = 1, "0"
    server.fail_next = [500]
    changes = [
        Change(sku(n), Availability(True, 10), seen[sku(n)].as_availability(), seen[sku(n)].platform_ref)
        for n in (1, 2, 6)
    ]
    result = await reconciler.apply(changes)
    assert [o.external_id for o in result.confirmed] == [sku(1), sku(2)]
    assert [(f.external_id, f.kind) for f in result.failed] == [(sku(6), FailureKind.PROBLEM)]
    assert server.stats.patch_bodies == [{"inventoryType": "finite", "quantity": 10}] * 2
    assert server.skus[sku(6)] == Inventory("infinite", 0)  # never switched to finite
    assert server.stats.throttled == 1

    del server.skus[sku(3)]  # deleted in Webflow meanwhile
    missing = await reconciler.apply([Change(sku(3), Availability(False, 0))])
    assert [f.kind for f in missing.failed] == [FailureKind.PERMANENT]
    wrong = build(session, base, credential=Secret("wf", json.dumps({"access_token": "revoked"})))
    with pytest.raises(AuthError):
        await wrong.observe(synced(1))
    assert server.violations == []


async def test_pacing_follows_the_documented_budget_and_the_fakes_429(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    assert build(session, base).capabilities.rate_budget.requests_per_second == 1.0  # 60 a minute
    plan = build(session, base, requests_per_minute=6000)
    pacer = build_pacer(plan.capabilities.rate_budget)
    assert isinstance(pacer, LeakyBucketPacer) and pacer.rate == pytest.approx(100.0)
    server.rate_limit, server.window_s, server.retry_after = 2, 0.2, "0.2"
    for number in range(1, 6):
        server.skus[sku(number)] = Inventory("finite", number)
    observed = await build(session, base, pacer).observe(synced(1, 2, 3, 4, 5))
    assert [o.quantity for o in observed] == [1, 2, 3, 4, 5]  # every 429 waited out, nothing lost
    assert server.stats.throttled >= 1 and server.violations == []


async def test_a_manual_edit_is_announced_by_a_signed_webhook(
    session: aiohttp.ClientSession, fake: Any
) -> None:
    server, base = fake
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        server.skus[sku(1)] = Inventory("finite", 5)
        await server.manual_edit(session, sku(1), 2)
        [(headers, body)] = received
        reconciler = build(session, base)
        assert reconciler.verify_webhook(headers, body)
        assert reconciler.parse_webhook(headers, body) == [Observed(sku(1), True, 2)]
    finally:
        await runner.cleanup()
