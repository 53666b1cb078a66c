"""The sandbox store over real HTTP on 127.0.0.1: auth, reads, writes, limits, faults, webhooks, state file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox_store.server import SandboxConfig, SandboxStore

TOKEN = "sandbox-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "whsec-test"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Receiver:
    """A local webhook receiver: every POST lands in `received` as (headers, raw body)."""

    url: str = ""
    received: asyncio.Queue[tuple[dict[str, str], bytes]] = field(default_factory=asyncio.Queue)

    async def next(self) -> tuple[dict[str, str], dict[str, Any], bytes]:
        headers, body = await asyncio.wait_for(self.received.get(), timeout=5)
        return headers, json.loads(body), body


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def hook(request: web.Request) -> web.Response:
        rec.received.put_nowait((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


StoreFactory = Callable[..., Awaitable[tuple[SandboxStore, str]]]


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest.fixture
async def make_store() -> AsyncIterator[StoreFactory]:
    stores: list[SandboxStore] = []

    async def make(**kwargs: Any) -> tuple[SandboxStore, str]:
        store = SandboxStore(SandboxConfig(token=TOKEN, **kwargs))
        stores.append(store)
        return store, await store.start()

    yield make
    for store in stores:
        await store.stop()


async def seed(session: aiohttp.ClientSession, base: str, count: int, quantity: int | None = 5) -> None:
    items = [{"external_id": f"v{i:04d}", "available": True, "quantity": quantity} for i in range(count)]
    async with session.post(f"{base}/control/items", json={"items": items}) as resp:
        assert resp.status == 200


async def get(session: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with session.get(url, params=params) as resp:
        return resp.status, await resp.json()


async def write(session: aiohttp.ClientSession, base: str, updates: list[dict[str, Any]]) -> tuple[int, Any]:
    async with session.post(f"{base}/api/items/batch", json={"updates": updates}) as resp:
        return resp.status, await resp.json()


async def test_every_route_requires_the_bearer_token(make_store: StoreFactory) -> None:
    store, base = await make_store()
    async with aiohttp.ClientSession() as anonymous:
        for method, path in [("GET", "/api/items"), ("POST", "/api/items/batch"), ("GET", "/control/items")]:
            async with anonymous.request(
                method, base + path, headers={"Authorization": "Bearer nope"}
            ) as resp:
                assert resp.status == 401
                assert "nope" not in await resp.text()
        async with anonymous.get(base + "/api/items") as resp:
            assert resp.status == 401
    assert store.stats.reads == 0


async def test_lookup_by_ids_returns_only_known_items(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store()
    await seed(client, base, 3, quantity=None)
    status, body = await get(client, f"{base}/api/items", ids="v0002,missing,v0000")
    assert status == 200
    assert sorted(i["external_id"] for i in body["items"]) == ["v0000", "v0002"]
    assert body["items"][0]["quantity"] is None and body["items"][0]["available"] is True
    assert set(body["items"][0]) == {"external_id", "available", "quantity", "unlimited", "updated_at"}
    assert store.stats.reads == 1


async def test_cursor_pagination_covers_every_item_exactly_once(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    _, base = await make_store(page_size=7)
    await seed(client, base, 30)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "7"} | ({"cursor": cursor} if cursor else {})
        status, body = await get(client, f"{base}/api/items", **params)
        assert status == 200
        seen += [i["external_id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"v{i:04d}" for i in range(30)]
    assert pages == 5


async def test_page_size_and_batch_limit_are_enforced(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store(page_size=5, batch_limit=3)
    await seed(client, base, 6)
    status, body = await get(client, f"{base}/api/items", limit="6")
    assert status == 400 and "limit" in body["error"]
    status, body = await get(client, f"{base}/api/items", ids=",".join(f"v{i:04d}" for i in range(6)))
    assert status == 400 and "ids" in body["error"]
    status, body = await get(client, f"{base}/api/items", cursor="garbage!")
    assert status == 400 and "cursor" in body["error"]
    updates = [{"external_id": f"v{i:04d}", "available": False, "quantity": 0} for i in range(4)]
    status, body = await write(client, base, updates)
    assert status == 413 and "batch limit" in body["error"]
    status, body = await write(client, base, [{"external_id": "v0000", "available": "no", "quantity": 0}])
    assert status == 400 and "updates[0].available" in body["error"]
    assert store.write_log == [] and store.items["v0000"].available is True


async def test_rate_limit_answers_429_with_retry_after(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store(rate_per_s=0.5, burst=2)
    statuses = []
    for _ in range(3):
        async with client.get(f"{base}/api/items", params={"ids": "x"}) as resp:
            statuses.append(resp.status)
            last_headers = resp.headers
            last_body = await resp.json()
    assert statuses == [200, 200, 429]
    assert int(last_headers["Retry-After"]) >= 1
    assert last_headers["X-RateLimit-Remaining"] == "0"
    assert last_body == {"error": "rate limited"}
    assert store.stats.throttled_429 == 1
    # the harness is not rate limited
    status, _ = await get(client, f"{base}/control/stats")
    assert status == 200


async def test_next_statuses_and_malformed_bodies_are_consumed_one_per_request(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store()
    await seed(client, base, 1)
    faults = {"next_statuses": [503, 429], "malformed_next": 1}
    async with client.post(f"{base}/control/faults", json=faults) as resp:
        assert resp.status == 200
    seen = []
    for _ in range(4):
        async with client.get(f"{base}/api/items", params={"ids": "v0000"}) as resp:
            text = await resp.text()
            seen.append((resp.status, resp.headers.get("Retry-After")))
    assert seen == [(503, None), (429, "1"), (200, None), (200, None)]
    assert json.loads(text)["items"][0]["external_id"] == "v0000"
    assert store.stats.faults_injected == 3
    async with client.post(f"{base}/control/faults", json={"malformed_next": 1}) as resp:
        assert resp.status == 200
    async with client.get(f"{base}/api/items", params={"ids": "v0000"}) as resp:
        with pytest.raises(ValueError):
            json.loads(await resp.text())


async def test_hangs_and_resets_give_no_answer_and_every_api_call_is_recorded(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store()
    await seed(client, base, 1)
    faults = {"next_statuses": [429], "hang_next": 1, "reset_next": 2}
    async with client.post(f"{base}/control/faults", json=faults) as resp:
        assert resp.status == 200
    url, params = f"{base}/api/items", {"ids": "v0000"}
    async with client.get(url, params=params) as resp:
        assert resp.status == 429
    with pytest.raises(TimeoutError):  # the store answers nothing until the client gives up
        async with client.get(url, params=params, timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
            await resp.read()
    # two resets: aiohttp quietly repeats an idempotent request once after a reset
    with pytest.raises(aiohttp.ClientConnectionError):  # reset by peer, no answer
        async with client.get(url, params=params) as resp:
            await resp.read()
    async with client.get(url, params=params) as resp:
        assert resp.status == 200
    await asyncio.sleep(0.05)  # the hung handler notices the client left
    calls = sorted(store.stats.calls, key=lambda c: c.at)
    answers = [(c.status, c.retry_after_s) for c in calls]
    assert answers == [(429, 1.0), (None, None), (None, None), (None, None), (200, None)]
    assert store.stats.faults_injected == 4
    async with client.post(f"{base}/control/faults", json={"hang_next": 5, "reset_next": 5}) as resp:
        assert resp.status == 200
    async with client.delete(f"{base}/control/faults") as resp:
        assert resp.status == 200
    async with client.get(url, params=params) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("bad", [{"hang_next": -1}, {"reset_next": "2"}, {"hang_next": True}])
async def test_hang_and_reset_counts_are_validated(
    make_store: StoreFactory, client: aiohttp.ClientSession, bad: dict[str, object]
) -> None:
    _, base = await make_store()
    async with client.post(f"{base}/control/faults", json=bad) as resp:
        assert resp.status == 400 and next(iter(bad)) in (await resp.json())["error"]


async def test_fail_items_and_compare_and_set_give_per_item_errors(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store()
    await seed(client, base, 4)
    fail = {"fail_items": {"v0001": "permanent", "v0002": "temporary"}}
    async with client.post(f"{base}/control/faults", json=fail) as resp:
        assert resp.status == 200
    updates = [
        {
            "external_id": "v0000",
            "available": False,
            "quantity": 0,
            "expected": {"available": True, "quantity": 5},
        },
        {"external_id": "v0001", "available": False, "quantity": 0},
        {"external_id": "v0002", "available": False, "quantity": 0},
        {
            "external_id": "v0003",
            "available": False,
            "quantity": 0,
            "expected": {"available": True, "quantity": 9},
        },
        {"external_id": "nope", "available": False, "quantity": 0},
    ]
    status, body = await write(client, base, updates)
    assert status == 200
    results = {r["external_id"]: r for r in body["results"]}
    assert results["v0000"]["status"] == "ok" and results["v0000"]["item"]["quantity"] == 0
    assert (results["v0001"]["code"], results["v0001"]["retryable"]) == ("injected", False)
    assert (results["v0002"]["code"], results["v0002"]["retryable"]) == ("injected", True)
    assert (results["v0003"]["code"], results["v0003"]["retryable"]) == ("conflict", False)
    assert results["nope"]["code"] == "not_found"
    assert store.items["v0003"].quantity == 5  # a conflict writes nothing
    assert [w.external_id for w in store.write_log] == ["v0000"]
    assert store.stats.write_batches == 1 and store.stats.items_written == 1
    async with client.delete(f"{base}/control/faults") as resp:
        assert resp.status == 200
    status, body = await write(client, base, [updates[1]])
    assert body["results"][0]["status"] == "ok"


async def test_manual_edit_sends_a_signed_webhook_and_is_not_a_write(
    make_store: StoreFactory, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    store, base = await make_store(webhook_url=receiver.url, webhook_secret=SECRET)
    await seed(client, base, 2)
    async with client.post(f"{base}/control/edit", json={"external_id": "v0001", "quantity": 0}) as resp:
        assert resp.status == 200
    headers, payload, raw = await receiver.next()
    expected = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    assert headers["X-Sandbox-Hmac-Sha256"] == expected
    assert headers["X-Sandbox-Topic"] == "item.updated"
    assert headers["Content-Type"] == "application/json"
    assert payload["origin"] == "admin" and payload["topic"] == "item.updated"
    assert payload["item"]["external_id"] == "v0001" and payload["item"]["quantity"] == 0
    assert payload["item"]["available"] is True  # an absent key keeps the current value
    assert store.items["v0001"].quantity == 0
    assert store.write_log == []
    async with client.get(f"{base}/control/writes") as resp:
        assert (await resp.json()) == {"writes": []}
    async with client.post(f"{base}/control/edit", json={"external_id": "ghost", "quantity": 0}) as resp:
        assert resp.status == 404


async def test_api_writes_echo_a_webhook_with_origin_api(
    make_store: StoreFactory, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    store, base = await make_store(webhook_url=receiver.url, webhook_secret=SECRET)
    await seed(client, base, 1)
    status, _ = await write(client, base, [{"external_id": "v0000", "available": False, "quantity": 0}])
    assert status == 200
    _, payload, _ = await receiver.next()
    assert payload["origin"] == "api"
    assert payload["item"] == store.items["v0000"].to_json()
    assert store.stats.webhooks_sent == 1
    async with client.get(f"{base}/control/writes") as resp:
        writes = (await resp.json())["writes"]
    assert [(w["external_id"], w["available"], w["quantity"]) for w in writes] == [("v0000", False, 0)]


async def test_no_echo_when_disabled_and_seeding_never_notifies(
    make_store: StoreFactory, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    store, base = await make_store(
        webhook_url=receiver.url, webhook_secret=SECRET, webhook_on_api_writes=False
    )
    await seed(client, base, 1)
    await write(client, base, [{"external_id": "v0000", "available": False, "quantity": 0}])
    async with client.post(f"{base}/control/edit", json={"external_id": "v0000", "available": True}) as resp:
        assert resp.status == 200
    _, payload, _ = await receiver.next()
    assert payload["origin"] == "admin"  # the first notification is the edit: no seed, no echo before it
    assert receiver.received.empty()


async def test_state_file_survives_a_restart(tmp_path: Path, client: aiohttp.ClientSession) -> None:
    state = tmp_path / "sandbox.json"
    first = SandboxStore(SandboxConfig(token=TOKEN, state_file=state))
    base = await first.start()
    try:
        await seed(client, base, 3)
        await write(client, base, [{"external_id": "v0001", "available": False, "quantity": 0}])
    finally:
        await first.stop()
    assert json.loads(state.read_text())["items"]["v0001"]["available"] is False
    second = SandboxStore(SandboxConfig(token=TOKEN, state_file=state))
    base = await second.start()
    try:
        status, body = await get(client, f"{base}/api/items", ids="v0000,v0001,v0002")
    finally:
        await second.stop()
    assert status == 200
    by_id = {i["external_id"]: i for i in body["items"]}
    assert len(by_id) == 3
    assert (by_id["v0001"]["available"], by_id["v0001"]["quantity"]) == (False, 0)
    assert second.write_log == []  # the write log is the running server's, not persisted state


async def test_control_clear_and_stats(make_store: StoreFactory, client: aiohttp.ClientSession) -> None:
    store, base = await make_store()
    await seed(client, base, 2)
    async with client.delete(f"{base}/control/items") as resp:
        assert (await resp.json()) == {"deleted": 2}
    status, stats = await get(client, f"{base}/control/stats")
    assert status == 200
    assert stats["requests"]["POST /control/items"] == 1
    assert stats["requests"]["DELETE /control/items"] == 1
    assert store.items == {}


async def test_serve_forever_stops_cleanly_on_sigterm_and_flushes_state(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free loopback port for the child to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = tmp_path / "state.json"
    script = (
        "import asyncio, pathlib\n"
        "from sandbox_store.server import SandboxConfig, serve_forever\n"
        f"cfg = SandboxConfig(token={TOKEN!r}, state_file=pathlib.Path({str(state)!r}))\n"
        f"asyncio.run(serve_forever(cfg, '127.0.0.1', {port}))\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=REPO, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            for _ in range(100):
                try:
                    await seed(session, f"http://127.0.0.1:{port}", 2)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the sandbox server never answered")
        child.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(child.communicate(), timeout=10)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, stderr.decode()
    assert sorted(json.loads(state.read_text())["items"]) == ["v0000", "v0001"]


async def test_an_item_can_be_made_unlimited_and_any_value_ends_it(
    make_store: StoreFactory, client: aiohttp.ClientSession
) -> None:
    store, base = await make_store()
    await seed(client, base, 2)

    async def edit(body: dict[str, Any]) -> tuple[int, Any]:
        async with client.post(f"{base}/control/edit", json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    status, body = await edit({"external_id": "v0000", "unlimited": True})
    assert status == 200 and (body["item"]["available"], body["item"]["quantity"]) == (True, None)
    assert store.items["v0000"].unlimited
    status, body = await edit({"external_id": "v0000", "quantity": 3})  # a count again
    assert status == 200 and body["item"]["unlimited"] is False and body["item"]["quantity"] == 3
    status, _ = await edit({"external_id": "v0001", "unlimited": True, "quantity": 4})
    assert status == 400
    await edit({"external_id": "v0001", "unlimited": True})
    status, _ = await write(client, base, [{"external_id": "v0001", "available": True, "quantity": 2}])
    assert status == 200 and not store.items["v0001"].unlimited  # our write replaces it
