"""The sandbox store: a small real HTTP store platform on 127.0.0.1 for demos, end-to-end tests, benchmarks.

It behaves like a platform (bearer auth, pagination, a write batch limit, a rate limit answering 429 +
Retry-After, injected failures, signed webhooks for merchant edits and echoed API writes) while keeping
its state in memory (and optionally a JSON file). It is not a mock: it never knows who calls it. It must
never listen on anything but the address it is given, and never block an API answer on a webhook.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import signal
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox_store.state import (
    ApiCall,
    BadRequest,
    Faults,
    SandboxConfig,
    SandboxItem,
    SandboxState,
    SandboxStats,
    TokenBucket,
    Update,
    WriteRecord,
    now_iso,
    parse_faults,
    parse_updates,
    save_state,
)

__all__ = ["SandboxConfig", "SandboxItem", "SandboxStats", "SandboxStore", "WriteRecord", "serve_forever"]

_WEBHOOK_ATTEMPTS = 3
_WEBHOOK_BACKOFF_S = 0.05
_SAVE_DEBOUNCE_S = 0.05
_HANG_POLL_S = 0.02
_HANG_MAX_S = 120.0


@dataclass(frozen=True)
class _Notification:
    item: SandboxItem
    origin: str


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class SandboxStore:
    """One sandbox store served over HTTP; start() it, talk to it, stop() it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.faults = Faults()
        self._state = SandboxState(self.faults)
        self.stats = SandboxStats()
        self._bucket = None if config.rate_per_s is None else TokenBucket(config.rate_per_s, config.burst)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._outbox: asyncio.Queue[_Notification] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self._saver: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def items(self) -> dict[str, SandboxItem]:
        return self._state.items

    @property
    def write_log(self) -> list[WriteRecord]:
        return self._state.write_log

    def add_items(self, external_ids: Sequence[str]) -> None:
        """New items, unavailable and without a count, as a merchant creates them before any sync."""
        self._state.upsert([Update(external_id, False, None) for external_id in external_ids])
        self._dirty.set()

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self.config.state_file is not None:
            await asyncio.to_thread(self._state.load, self.config.state_file)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._spawn(self._deliver_forever())
        if self.config.state_file is not None:
            self._saver = asyncio.get_running_loop().create_task(self._save_forever())
        self._runner = web.AppRunner(self._build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        return f"http://{host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._saver is not None:
            # not cancelled: a save already running in its thread would race the final one
            self._closing = True
            self._dirty.set()
            await self._saver
            self._saver = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/api/items", self._api_items)
        app.router.add_post("/api/items/batch", self._api_batch)
        app.router.add_get("/control/items", self._control_list)
        app.router.add_post("/control/items", self._control_upsert)
        app.router.add_delete("/control/items", self._control_clear)
        app.router.add_post("/control/edit", self._control_edit)
        app.router.add_post("/control/faults", self._control_set_faults)
        app.router.add_delete("/control/faults", self._control_clear_faults)
        app.router.add_get("/control/writes", self._control_writes)
        app.router.add_delete("/control/writes", self._control_clear_writes)
        app.router.add_get("/control/stats", self._control_stats)
        return app

    # ------------------------------------------------------------ the platform behaviour around handlers

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = f"{request.method} {request.path}"
        self.stats.requests[route] = self.stats.requests.get(route, 0) + 1
        if not self._authorized(request):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if not request.path.startswith("/api/"):
            return await self._answer(request, handler)
        arrived = time.monotonic()
        response = await self._api_answer(request, handler)
        self._record_call(arrived, route, request, response)
        return response

    def _record_call(
        self, arrived: float, route: str, request: web.Request, response: web.StreamResponse
    ) -> None:
        answered = _connected(request)
        retry_after = response.headers.get("Retry-After")
        self.stats.calls.append(
            ApiCall(
                arrived,
                route,
                response.status if answered else None,
                float(retry_after) if retry_after is not None and answered else None,
            )
        )

    async def _api_answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        delay_ms = self.config.latency_ms + self.faults.latency_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        extra: dict[str, str] = {}
        if self._bucket is not None:
            allowed, remaining, retry_after = self._bucket.take()
            extra["X-RateLimit-Remaining"] = str(remaining)
            if not allowed:
                self.stats.throttled_429 += 1
                return _error(429, "rate limited", {**extra, "Retry-After": str(retry_after)})
        injected = self._injected_answer()
        if injected is None:  # not `or`: an aiohttp response is a mapping, falsy while it has no state
            injected = await self._injected_silence(request)
        if injected is not None:
            injected.headers.update(extra)
            return injected
        response = await self._answer(request, handler)
        response.headers.update(extra)
        return response

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {self.config.token}"
        return hmac.compare_digest(given.encode(), expected.encode())

    def _injected_answer(self) -> web.Response | None:
        if self.faults.next_statuses:
            status = self.faults.next_statuses.pop(0)
            self.stats.faults_injected += 1
            if status == 429:
                self.stats.throttled_429 += 1
                return _error(429, "rate limited", {"Retry-After": "1"})
            return _error(status, f"injected HTTP {status}")
        if self.faults.malformed_next > 0:
            self.faults.malformed_next -= 1
            self.stats.faults_injected += 1
            return web.Response(
                status=200, text='{"items": [{"external_id": ', content_type="application/json"
            )
        return None

    async def _injected_silence(self, request: web.Request) -> web.Response | None:
        """A hang or a reset: the request gets no answer the client could read."""
        if self.faults.hang_next > 0:
            self.faults.hang_next -= 1
            self.stats.faults_injected += 1
            # no event says "the client hung up": look at the connection now and then
            for _ in range(int(_HANG_MAX_S / _HANG_POLL_S)):
                if not _connected(request):
                    break
                await asyncio.sleep(_HANG_POLL_S)
            return _error(504, "injected hang")  # written only if the client is still there
        if self.faults.reset_next > 0:
            self.faults.reset_next -= 1
            self.stats.faults_injected += 1
            _reset(request)
            return _error(500, "injected reset")  # never written: the connection is gone
        return None

    @staticmethod
    async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(exc.status, str(exc))

    # ------------------------------------------------------------ /api

    async def _api_items(self, request: web.Request) -> web.Response:
        query = request.query
        if "ids" in query:
            ids = [i for i in query["ids"].split(",") if i]
            if len(ids) > self.config.page_size:
                raise BadRequest("ids", f"{len(ids)} ids exceed the page size of {self.config.page_size}")
            self.stats.reads += 1
            return web.json_response({"items": [i.to_json() for i in self._state.lookup(ids)]})
        limit = _int_param(query.get("limit"), "limit", default=self.config.page_size)
        if not 1 <= limit <= self.config.page_size:
            raise BadRequest("limit", f"must be between 1 and {self.config.page_size}")
        items, next_cursor = self._state.page(limit, query.get("cursor") or None)
        self.stats.reads += 1
        return web.json_response({"items": [i.to_json() for i in items], "next_cursor": next_cursor})

    async def _api_batch(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        updates = parse_updates(body, "updates", limit=self.config.batch_limit, allow_expected=True)
        results, written = self._state.write_batch(updates)
        self.stats.write_batches += 1
        self.stats.items_written += len(written)
        if written:
            self._dirty.set()
        if self.config.webhook_on_api_writes:
            for item in written:
                self._notify(item, "api")
        return web.json_response({"results": results})

    # ------------------------------------------------------------ /control (the test and demo harness)

    async def _control_list(self, request: web.Request) -> web.Response:
        return web.json_response({"items": [i.to_json() for _, i in sorted(self.items.items())]})

    async def _control_upsert(self, request: web.Request) -> web.Response:
        updates = parse_updates(await _json_body(request), "items", limit=None, allow_expected=False)
        self._state.upsert(updates)
        self._dirty.set()
        return web.json_response({"upserted": len(updates)})

    async def _control_clear(self, request: web.Request) -> web.Response:
        count = len(self.items)
        self.items.clear()
        self._dirty.set()
        return web.json_response({"deleted": count})

    async def _control_edit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("body", "must be a JSON object")
        current = self.items.get(str(body.get("external_id")))
        if current is None:
            return _error(404, "external_id: no such item")
        # a merchant may change only one of the fields; an absent key keeps the current value, and
        # setting a value ends "unlimited"
        kept = current.unlimited and not {"available", "quantity"} & set(body)
        merged = {"available": current.available, "quantity": current.quantity, "unlimited": kept, **body}
        if (
            merged["unlimited"] is True
        ):  # unlimited: available without a count, unless the body says otherwise
            merged = {"available": True, "quantity": None, "unlimited": True} | body
        update = parse_updates({"items": [merged]}, "items", limit=None, allow_expected=False)[0]
        item = self._state.edit(update.external_id, update.available, update.quantity, update.unlimited)
        self._dirty.set()
        self._notify(item, "admin")
        return web.json_response({"item": item.to_json()})

    async def _control_set_faults(self, request: web.Request) -> web.Response:
        parse_faults(await _json_body(request), self.faults)
        return web.json_response({"ok": True})

    async def _control_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"ok": True})

    async def _control_writes(self, request: web.Request) -> web.Response:
        return web.json_response({"writes": [w.to_json() for w in self.write_log]})

    async def _control_clear_writes(self, request: web.Request) -> web.Response:
        count = len(self.write_log)
        self.write_log.clear()
        return web.json_response({"deleted": count})

    async def _control_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.to_json())

    # ------------------------------------------------------------ webhooks and persistence (background)

    def _notify(self, item: SandboxItem, origin: str) -> None:
        if self.config.webhook_url is not None:
            self._outbox.put_nowait(_Notification(item, origin))

    async def _deliver_forever(self) -> None:
        # one deliverer keeps notifications in the order the changes happened
        while True:
            note = await self._outbox.get()
            await self._deliver(note)

    async def _deliver(self, note: _Notification) -> None:
        assert self._session is not None and self.config.webhook_url is not None
        body = json.dumps(
            {
                "topic": "item.updated",
                "item": note.item.to_json(),
                "origin": note.origin,
                "sent_at": now_iso(),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Sandbox-Topic": "item.updated",
            "X-Sandbox-Delivery-Id": uuid.uuid4().hex,  # the same on every attempt of this delivery
        }
        if self.config.webhook_secret is not None:
            headers["X-Sandbox-Hmac-Sha256"] = sign_webhook(self.config.webhook_secret, body)
        for attempt in range(_WEBHOOK_ATTEMPTS):
            try:
                async with self._session.post(self.config.webhook_url, data=body, headers=headers) as resp:
                    if resp.status < 500:
                        self.stats.webhooks_sent += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass  # the receiver may be restarting: retry like a platform would, then give up
            await asyncio.sleep(_WEBHOOK_BACKOFF_S * 2**attempt)

    async def _save_forever(self) -> None:
        assert self.config.state_file is not None
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await asyncio.to_thread(save_state, self.config.state_file, self._state.snapshot())
            if self._closing:
                if not self._dirty.is_set():
                    return
                continue
            await asyncio.sleep(_SAVE_DEBOUNCE_S)


def _connected(request: web.Request) -> bool:
    return request.transport is not None and not request.transport.is_closing()


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP reset (SO_LINGER 0), as a crashing proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def sign_webhook(secret: str, body: bytes) -> str:
    """X-Sandbox-Hmac-Sha256: base64 of HMAC-SHA256(secret, raw body)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _int_param(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(name, "must be a whole number") from None


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        raise BadRequest("body", "is not valid JSON") from None


async def serve_forever(
    config: SandboxConfig,
    host: str,
    port: int,
    items: Sequence[str] = (),
    announce: Callable[[str], None] | None = None,
    listening: Callable[[str], Awaitable[None]] | None = None,
) -> None:
    """Serves one sandbox store until SIGINT or SIGTERM, then stops it cleanly (state flushed).

    `items`: external ids the store must list (added as unavailable, no count, when missing; items it
    already has keep their values), so a store is ready to be synced without a call to /control.
    `announce` hears one line once the store listens; `listening` is awaited with the store's URL
    first (port 0 binds a free port: this is where the caller learns which).
    """
    store = SandboxStore(config)
    url = await store.start(host, port)
    if listening is not None:
        try:
            await listening(url)
        except BaseException:
            await store.stop()
            raise
    missing = [i for i in dict.fromkeys(items) if i not in store.items]
    store.add_items(missing)
    if announce is not None:
        listed = f"; {len(missing)} item(s) added, {len(store.items)} listed" if items else ""
        announce(f"sandbox store on {url} (Ctrl-C to stop){listed}")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        await store.stop()
