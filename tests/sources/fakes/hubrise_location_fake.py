"""A local HubRise location (127.0.0.1, port 0): the inventory read and the callbacks a POS bridge's
writes cause, written from HubRise's API documentation (catalogs.md §14, callbacks.md,
general-concepts.md).

- GET /v1/catalogs/:catalog_id/locations/:location_id/inventory (and the location-token short form
  /v1/catalogs/:catalog_id/location/inventory): the whole entry list, stocks as decimal strings, no
  entry = unlimited. X-Access-Token checked (401 `unauthorized`); another catalog or location: 404
  `not_found`.
- `throttle_next`: that many 429 `too_many_requests` answers (no Retry-After: none is documented;
  `retry_after` sends one, as a gateway might).
- `fail_next`: HTTP statuses (5xx) answered first; `truncate_next`: answers cut mid-body (the
  connection closes before the promised Content-Length).
- Not documented, so off unless a test turns them on: `page_size` paginates with X-Cursor-Next
  (as HubRise's index endpoints do), `etag` sends an ETag and answers a matching If-None-Match with 304.
- `bridge_patch()` / `bridge_replace()`: another client's PATCH / PUT; they change the inventory and
  return the signed callback event (X-HubRise-Hmac-SHA256 = hex HMAC-SHA256 of the raw body keyed
  with the client secret), which `deliver()` POSTs.
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

REF_FIELDS = ("sku_ref", "option_ref")


@dataclass
class FakeStats:
    requests: int = 0
    gets: int = 0
    throttled_429: int = 0
    not_modified: int = 0
    truncated: int = 0


class HubRiseLocationFake:
    def __init__(self, token: str, client_secret: str, catalog_id: str, location_id: str) -> None:
        self.token, self.client_secret = token, client_secret
        self.catalog_id, self.location_id = catalog_id, location_id
        self.inventory: dict[tuple[str, str], str] = {}  # (ref field, ref) -> stock
        self.stats = FakeStats()
        self.throttle_next = 0
        self.retry_after: str | None = None
        self.fail_next: list[int] = []
        self.truncate_next = 0
        self.page_size: int | None = None
        self.etag = False
        self._version = 0
        self._events = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/catalogs/{catalog_id}/locations/{location_id}/inventory", self._inventory)
        app.router.add_get("/v1/catalogs/{catalog_id}/location/inventory", self._inventory)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def entries(self) -> list[dict[str, str]]:
        return [{field: ref, "stock": stock} for (field, ref), stock in self.inventory.items()]

    async def _inventory(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Bad Gateway")
        if request.headers.get("X-Access-Token") != self.token:
            return _error(401, "unauthorized", "Invalid token")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
            return _error(429, "too_many_requests", "Rate limit exceeded", headers)
        location = request.match_info.get("location_id", self.location_id)
        if request.match_info["catalog_id"] != self.catalog_id or location != self.location_id:
            return _error(404, "not_found", "Inventory not found")
        self.stats.gets += 1
        etag = f'"v{self._version}"'
        if self.etag and request.headers.get("If-None-Match") == etag:
            self.stats.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        entries, cursor = self.entries(), None
        if self.page_size is not None:
            start = int(request.query.get("cursor", "0"))
            entries = entries[start : start + self.page_size]
            if start + self.page_size < len(self.inventory):
                cursor = str(start + self.page_size)
        headers = {"ETag": etag} if self.etag else {}
        if cursor is not None:
            headers["X-Cursor-Next"] = cursor
        if self.truncate_next > 0:
            self.truncate_next -= 1
            self.stats.truncated += 1
            return await _cut(request, json.dumps(entries).encode())
        return web.json_response(entries, headers=headers)

    def bridge_patch(self, entries: list[dict[str, Any]]) -> tuple[dict[str, str], bytes]:
        """Another client PATCHes (stock null removes the entry); the signed inventory.patch event."""
        for entry in entries:
            key = _key(entry)
            if entry["stock"] is None:
                self.inventory.pop(key, None)
            else:
                self.inventory[key] = _decimal_text(entry["stock"])
        self._version += 1
        return self._event("patch", state_change=entries)

    def bridge_replace(self, entries: list[dict[str, Any]]) -> tuple[dict[str, str], bytes]:
        """Another client PUTs the whole inventory; the signed inventory.update event (no state)."""
        self.inventory = {_key(e): _decimal_text(e["stock"]) for e in entries if e["stock"] is not None}
        self._version += 1
        return self._event("update")

    def _event(self, event_type: str, **state: Any) -> tuple[dict[str, str], bytes]:
        event = {
            "id": f"ev{next(self._events)}",
            "resource_type": "inventory",
            "event_type": event_type,
            "created_at": "2026-12-07T21:30:00+01:00",
            "catalog_id": self.catalog_id,
            "location_id": self.location_id,
            **state,
        }
        body = json.dumps(event).encode()
        return {"Content-Type": "application/json", "X-HubRise-Hmac-SHA256": self.sign(body)}, body

    def sign(self, body: bytes) -> str:
        return hmac.new(self.client_secret.encode(), body, hashlib.sha256).hexdigest()

    @staticmethod
    async def deliver(session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes) -> int:
        """POST an event to a callback URL as HubRise does; the status it was answered with."""
        async with session.post(url, data=body, headers=headers) as answer:
            return answer.status


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    fields = [f for f in REF_FIELDS if entry.get(f) is not None]
    if len(fields) != 1:
        raise ValueError("an entry needs exactly one of sku_ref, option_ref")
    return fields[0], str(entry[fields[0]])


def _decimal_text(stock: Any) -> str:
    value = Decimal(str(stock))
    if value < 0:
        raise ValueError("stock must be a positive decimal")
    return str(stock)


def _error(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error_type": error_type, "message": message}, status=status, headers=headers)


async def _cut(request: web.Request, body: bytes) -> web.StreamResponse:
    """Promise the whole body, send half, close the connection: a read cut short."""
    answer = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    answer.content_length = len(body)
    await answer.prepare(request)
    await answer.write(body[: len(body) // 2])
    assert request.transport is not None
    request.transport.close()
    return answer
