"""SandboxReconciler against a real SandboxStore on 127.0.0.1, through the shared transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from daemon.credentials import Secret
from daemon.errors import ConfigError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.sandbox import SandboxReconciler
from reconcilers.transport import RetryPolicy, Transport
from sandbox_store.server import SandboxConfig, SandboxStore

TOKEN = "sandbox-token-for-tests"
SECRET = "sandbox-webhook-secret"
CREDENTIAL = Secret("sandbox-cred", json.dumps({"token": TOKEN, "webhook_secret": SECRET}))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[dict[str, str], bytes]]]]:
    """A local webhook receiver: (url, queue of (headers, raw body))."""
    received: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        received.put_nowait((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    await runner.cleanup()


class Harness:
    """A started store, seeded, and a way to build reconcilers for it."""

    def __init__(self, store: SandboxStore, base: str, session: aiohttp.ClientSession) -> None:
        self.store, self.base, self.session = store, base, session

    def reconciler(
        self, credential: Secret = CREDENTIAL, retry: RetryPolicy | None = None, **settings: Any
    ) -> SandboxReconciler:
        transport = Transport(
            self.session,
            platform="sandbox",
            store_id="sb",
            pacer=LeakyBucketPacer(1000.0, burst=100),
            retry=retry or RetryPolicy(base_delay=0.01, max_delay=0.05),
        )
        store = StoreConfig(
            id="sb",
            platform="sandbox",
            region="r",
            credential="sandbox-cred",
            settings={"base_url": self.base} | settings,
        )
        return SandboxReconciler(ReconcilerContext(store, transport, credential))

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def seed(self, count: int, quantity: int | None = 5) -> None:
        items = [{"external_id": f"v{i:04d}", "available": True, "quantity": quantity} for i in range(count)]
        await self.control("POST", "/control/items", {"items": items})


@pytest.fixture
async def make(session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    stores: list[SandboxStore] = []

    async def build(**config: Any) -> Harness:
        store = SandboxStore(SandboxConfig(token=TOKEN, **config))
        stores.append(store)
        return Harness(store, await store.start(), session)

    yield build
    for store in stores:
        await store.stop()


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("sb", i, f"up-{i}") for i in ids]


def sold_out(external_id: str, expected: Availability | None = None) -> Change:
    return Change(external_id, Availability(False, 0), expected=expected)


async def test_observe_reads_exactly_the_requested_items_in_chunks(make: Any) -> None:
    h = await make(page_size=10)
    await h.seed(40, quantity=None)
    reconciler = h.reconciler(page_size=10)
    assert reconciler.capabilities.max_read_batch == 10
    wanted = [f"v{i:04d}" for i in range(0, 40, 2)] + ["missing-1", "missing-2"]
    observed = await reconciler.observe(variants(*wanted))
    assert sorted(o.external_id for o in observed) == [f"v{i:04d}" for i in range(0, 40, 2)]
    assert all(o == Observed(o.external_id, True, None) for o in observed)
    assert h.store.stats.reads == 3  # 22 ids in chunks of 10


async def test_apply_writes_one_batch_and_never_splits_again(make: Any) -> None:
    h = await make(batch_limit=50)
    await h.seed(120)
    reconciler = h.reconciler(batch_limit=50)
    result = await reconciler.apply([sold_out(f"v{i:04d}") for i in range(50)])
    assert result.failed == ()
    assert len(result.confirmed) == 50
    assert h.store.stats.write_batches == 1
    # packing batches is the engine's job: more than max_write_batch is a programming error
    with pytest.raises(ValueError, match="max_write_batch"):
        await reconciler.apply([sold_out(f"v{i:04d}") for i in range(51)])
    assert h.store.stats.write_batches == 1


async def test_partial_failures_are_mapped_per_item(make: Any) -> None:
    h = await make()
    await h.seed(5)
    await h.control("POST", "/control/faults", {"fail_items": {"v0001": "permanent", "v0002": "temporary"}})
    changes = [
        sold_out("v0000", expected=Availability(True, 5)),
        sold_out("v0001"),
        sold_out("v0002"),
        sold_out("v0003", expected=Availability(True, 7)),  # the merchant changed it since we read it
        Change("v0004", Availability(True, None)),  # status mode: the store stops managing a count
        sold_out("ghost"),
    ]
    result = await h.reconciler().apply(changes)
    assert result.confirmed == (Observed("v0000", False, 0), Observed("v0004", True, None))
    failures = {f.external_id: f for f in result.failed}
    assert set(failures) == {"v0001", "v0002", "v0003", "ghost"}
    assert failures["v0001"].permanent and failures["v0001"].reason.startswith("injected")
    assert not failures["v0002"].permanent
    assert failures["v0003"].permanent and failures["v0003"].reason.startswith("conflict")
    assert failures["ghost"].permanent and failures["ghost"].reason.startswith("not_found")
    assert h.store.items["v0003"].quantity == 5


async def test_whole_batch_refusals_fail_every_item(make: Any) -> None:
    h = await make(batch_limit=3)
    await h.seed(4)
    # settings claiming a larger batch than the store takes: the store answers 413
    too_big = await h.reconciler(batch_limit=4).apply([sold_out(f"v{i:04d}") for i in range(4)])
    assert len(too_big.failed) == 4 and all(f.permanent for f in too_big.failed)
    assert "413" in too_big.failed[0].reason
    await h.control("POST", "/control/faults", {"next_statuses": [503, 503]})
    flaky = await h.reconciler(retry=RetryPolicy(attempts=2, base_delay=0.01)).apply([sold_out("v0000")])
    assert len(flaky.failed) == 1 and not flaky.failed[0].permanent
    assert h.store.write_log == []
    assert TOKEN not in too_big.failed[0].reason + flaky.failed[0].reason


async def test_a_429_is_honoured_then_the_write_succeeds(make: Any) -> None:
    h = await make()
    await h.seed(1)
    await h.control("POST", "/control/faults", {"next_statuses": [429]})
    result = await h.reconciler().apply([sold_out("v0000")])
    assert result.confirmed == (Observed("v0000", False, 0),)
    assert h.store.stats.throttled_429 == 1
    assert h.store.stats.write_batches == 1


async def test_a_wrong_token_fails_every_item_as_auth_like_every_platform(make: Any) -> None:
    # it used to re-raise AuthError, which the engine retried as temporary (issue 14)
    h = await make()
    await h.seed(2)
    result = await h.reconciler(credential=Secret("c", "not-the-token")).apply(
        [sold_out("v0000"), sold_out("v0001")]
    )
    assert result.confirmed == ()
    assert [(f.external_id, f.kind) for f in result.failed] == [
        ("v0000", FailureKind.AUTH),
        ("v0001", FailureKind.AUTH),
    ]
    assert all(f.permanent and "401" in f.reason for f in result.failed)
    assert "not-the-token" not in result.failed[0].reason
    assert h.store.stats.write_batches == 0


async def test_plain_string_credential_is_the_token(make: Any) -> None:
    h = await make()
    await h.seed(2)
    reconciler = h.reconciler(credential=Secret("c", TOKEN))
    assert [o.external_id for o in await reconciler.observe(variants("v0001"))] == ["v0001"]
    assert reconciler.verify_webhook({"X-Sandbox-Hmac-Sha256": "anything"}, b"{}") is False


async def test_verify_webhook_accepts_a_real_one_and_rejects_a_tampered_one(make: Any, hook: Any) -> None:
    url, received = hook
    h = await make(webhook_url=url, webhook_secret=SECRET)
    await h.seed(1)
    await h.control("POST", "/control/edit", {"external_id": "v0000", "available": False, "quantity": 0})
    headers, body = await asyncio.wait_for(received.get(), timeout=5)
    reconciler = h.reconciler()
    assert reconciler.verify_webhook(headers, body) is True
    lowered = {k.lower(): v for k, v in headers.items()}
    assert reconciler.verify_webhook(lowered, body) is True
    assert reconciler.verify_webhook(headers, body.replace(b'"quantity": 0', b'"quantity": 9')) is False
    assert reconciler.verify_webhook({}, body) is False
    assert reconciler.parse_webhook(headers, body) == [Observed("v0000", False, 0)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"topic": "item.updated"}', "item"),
        (b'{"topic": "item.updated", "item": {"external_id": "a", "quantity": 1}}', "item.available"),
        (
            b'{"topic": "item.updated", "item": {"external_id": "a", "available": true, "quantity": "1"}}',
            "item.quantity",
        ),
        (b'{"topic": "order.created", "item": {}}', "topic"),
    ],
)
async def test_parse_webhook_names_the_bad_field(make: Any, body: bytes, field: str) -> None:
    h = await make()
    with pytest.raises(InputError) as caught:
        h.reconciler().parse_webhook({}, body)
    assert caught.value.field == field


async def test_settings_are_validated_with_the_store_named(make: Any) -> None:
    h = await make()
    transport = h.reconciler()._transport  # noqa: SLF001 - any transport will do
    bare = StoreConfig(id="shop-7", platform="sandbox", region="r", credential="c", settings={})
    with pytest.raises(ConfigError, match=r"stores\.shop-7\.settings\.base_url"):
        SandboxReconciler(ReconcilerContext(bare, transport, CREDENTIAL))
    with pytest.raises(ConfigError, match="batch_limit"):
        h.reconciler(batch_limit=0)
    with pytest.raises(ConfigError, match=r"settings\.rate_per_s: renamed: use 'requests_per_second'"):
        h.reconciler(rate_per_s=4)
    refined = h.reconciler(page_size=25, batch_limit=10, requests_per_second=4)
    assert (refined.capabilities.max_read_batch, refined.capabilities.max_write_batch) == (25, 10)
    assert refined.capabilities.rate_budget.requests_per_second == 4.0
    assert SandboxReconciler.capabilities.max_write_batch == 50  # the class default is untouched
    assert SECRET not in repr(refined.__dict__.get("capabilities"))


async def test_a_broken_answer_is_retried_by_the_transport(make: Any) -> None:
    h = await make()
    await h.seed(2)
    await h.control("POST", "/control/faults", {"malformed_next": 1})
    observed = await h.reconciler().observe(variants("v0000", "v0001"))
    assert [o.external_id for o in observed] == ["v0000", "v0001"]
    assert h.store.stats.faults_injected == 1
    assert h.store.stats.reads == 1  # the broken answer was injected before the read ran
