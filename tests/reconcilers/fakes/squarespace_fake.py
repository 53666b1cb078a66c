"""A local Squarespace Commerce Inventory API 1.0 (127.0.0.1, port 0) built from the documentation
(reconcilers/sources/squarespace.md), strict where the docs are:

- Every request needs `Authorization: Bearer <key>` (else 401 AUTHORIZATION_ERROR) and a User-Agent
  (else refused: 400 INVALID_REQUEST_ERROR; the docs say "rejected" without a status).
- GET /1.0/commerce/inventory?cursor= : 50 InventoryItems per page (fixed), `pagination`
  {hasNextPage, nextPageCursor, nextPageUrl}; an unknown cursor is a 400.
- GET /1.0/commerce/inventory/{id1},{id2},... : 1 to 50 ids (else 400); any unknown id is a 404 for
  the whole request; the order of the answer is not the order asked (here: reversed).
- POST /1.0/commerce/inventory/adjustments : `Idempotency-Key` required (alphanumeric, '-', '_',
  at most 64 characters) and `Content-Type: application/json`; increment/decrement/setFinite/
  setUnlimited operations, at least one, at most 50 in all, each variant in one operation only,
  quantities >= 1 for increment/decrement and >= 0 for setFinite; a decrement below 0
  (INSUFFICIENT_STOCK), an increment/decrement of an unlimited item (STOCK_NOT_TRACKED) or an unknown
  variant refuses the whole request with a 400 and nothing is applied. Success: 204, no body. A
  repeated key is answered with the first answer and applies nothing again; the same key with a
  different body is a 400 (a key belongs to its parameters).
- Errors are {type, subtype, message, details: null, contextId}.
- Rate: 300 requests per rolling minute; over it, or when `throttle_next` says so, a 429
  TOO_MANY_REQUESTS, and every request in the following cool-down (60 s) is refused too. No
  Retry-After is documented (`retry_after` None); tests may set one to keep the suite fast.
- Knobs: `refused` (variants whose adjustments a 400 refuses), `concurrent_next` (409
  CONCURRENT_MODIFICATION), `fail_next` (5xx statuses), `lose_next_answer` (an adjustment is applied
  but its answer is lost as a 503, as a network fault would: a retry with the same key must not
  apply it twice).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PAGE = 50
MAX_IDS = 50
MAX_OPERATIONS = 50
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_OPS = ("incrementOperations", "decrementOperations", "setFiniteOperations", "setUnlimitedOperations")


@dataclass
class SquarespaceStats:
    requests: int = 0
    lookups: list[int] = field(default_factory=list)  # ids per GET /inventory/{ids}
    listing_pages: int = 0
    adjustments: list[dict[str, Any]] = field(default_factory=list)  # applied bodies
    idempotency_keys: list[str] = field(default_factory=list)  # every key received, repeats too
    agents: set[str] = field(default_factory=set)
    throttled_429: int = 0
    refused_in_cool_down: int = 0


class SquarespaceFake:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.items: dict[str, dict[str, Any]] = {}  # variantId -> InventoryItem
        self.stats = SquarespaceStats()
        self.limit_per_minute = 300
        self.cool_down_s = 60.0
        self.retry_after: str | None = None
        self.throttle_next = 0
        self.concurrent_next = 0
        self.fail_next: list[int] = []
        self.refused: set[str] = set()
        self.lose_next_answer = 0
        self._cool_until = 0.0
        self._recent: list[float] = []
        self._cursors: dict[str, int] = {}
        self._keys: dict[str, tuple[Any, int, Any]] = {}  # key -> (body, status, answer)
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/1.0/commerce/inventory", self._listing)
        app.router.add_post("/1.0/commerce/inventory/adjustments", self._adjust)
        app.router.add_get("/1.0/commerce/inventory/{ids}", self._lookup)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def seed(self, variant_id: str, quantity: int | None, sku: str = "") -> None:
        """A counted variant (quantity) or an unlimited one (None, last count kept at 7)."""
        self.items[variant_id] = {
            "variantId": variant_id,
            "sku": sku or f"SKU-{variant_id[:8]}",
            "descriptor": f"Product [{variant_id[:8]}]",
            "isUnlimited": quantity is None,
            "quantity": 7 if quantity is None else quantity,
        }

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.stats.requests += 1
        now = time.monotonic()
        if now < self._cool_until:
            self.stats.refused_in_cool_down += 1
            return self._throttled()
        self._recent = [t for t in self._recent if now - t < 60] + [now]
        if self.throttle_next > 0 or len(self._recent) > self.limit_per_minute:
            self.throttle_next = max(0, self.throttle_next - 1)
            self.stats.throttled_429 += 1
            self._cool_until = now + self.cool_down_s
            return self._throttled()
        if self.fail_next:
            return _error(self.fail_next.pop(0), "SERVER_ERROR", None, "Internal error")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "AUTHORIZATION_ERROR", None, "Invalid or missing API key")
        agent = request.headers.get("User-Agent")
        if not agent:
            return _error(400, "INVALID_REQUEST_ERROR", "MISSING_ARGUMENT", "A User-Agent header is required")
        self.stats.agents.add(agent)
        return await handler(request)

    def _throttled(self) -> web.Response:
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        return _error(429, "TOO_MANY_REQUESTS", None, "Rate limit exceeded; cool down", headers)

    async def _listing(self, request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "")
        if cursor and cursor not in self._cursors:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Invalid cursor")
        start = self._cursors.get(cursor, 0) if cursor else 0
        ids = list(self.items)[start : start + PAGE]
        self.stats.listing_pages += 1
        following = start + PAGE < len(self.items)
        token = uuid.uuid4().hex if following else None
        if token is not None:
            self._cursors[token] = start + PAGE
        pagination = {
            "hasNextPage": following,
            "nextPageCursor": token,
            "nextPageUrl": f"{self.base}/1.0/commerce/inventory?cursor={token}" if token else None,
        }
        return web.json_response({"inventory": [self.items[i] for i in ids], "pagination": pagination})

    async def _lookup(self, request: web.Request) -> web.Response:
        ids = request.match_info["ids"].split(",")
        if not ids or "" in ids or len(ids) > MAX_IDS:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Between 1 and 50 ids required")
        self.stats.lookups.append(len(ids))
        if any(i not in self.items for i in ids):
            return _error(404, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Inventory item(s) not found")
        return web.json_response({"inventory": [self.items[i] for i in reversed(ids)]})

    async def _adjust(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if not _KEY.match(key):
            return _error(
                400, "INVALID_REQUEST_ERROR", "MISSING_ARGUMENT", "A valid Idempotency-Key is required"
            )
        if request.content_type != "application/json":
            return _error(
                400, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Content-Type must be application/json"
            )
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Body is not JSON")
        self.stats.idempotency_keys.append(key)
        if key in self._keys:
            first_body, status, answer = self._keys[key]
            if first_body != body:
                return _error(400, "INVALID_REQUEST_ERROR", "INVALID_ARGUMENT", "Idempotency-Key reused")
            return web.Response(status=204) if status == 204 else web.json_response(answer, status=status)
        if self.concurrent_next > 0:
            self.concurrent_next -= 1
            return _error(409, "CONFLICT", "CONCURRENT_MODIFICATION", "Concurrent modification")
        problem = self._refusal(body)
        if problem is not None:
            answer = _body("INVALID_REQUEST_ERROR", problem[0], problem[1])
            self._keys[key] = (body, 400, answer)
            return web.json_response(answer, status=400)
        self._apply(body)
        self.stats.adjustments.append(body)
        self._keys[key] = (body, 204, None)
        if self.lose_next_answer > 0:
            self.lose_next_answer -= 1
            return _error(503, "SERVICE_UNAVAILABLE", None, "Service unavailable")
        return web.Response(status=204)

    def _refusal(self, body: Any) -> tuple[str, str] | None:
        if not isinstance(body, dict) or set(body) - set(_OPS):
            return "INVALID_ARGUMENT", "Unknown or malformed fields"
        seen: list[str] = []
        for name in _OPS:
            ops = body.get(name) or []
            if not isinstance(ops, list):
                return "INVALID_ARGUMENT", f"{name} must be an array"
            for op in ops:
                if name == "setUnlimitedOperations":
                    if not isinstance(op, str):
                        return "INVALID_ARGUMENT", "setUnlimitedOperations takes variant ids"
                    seen.append(op)
                    continue
                quantity = op.get("quantity") if isinstance(op, dict) else None
                lowest = 0 if name == "setFiniteOperations" else 1
                if not isinstance(op, dict) or not isinstance(op.get("variantId"), str):
                    return "INVALID_ARGUMENT", f"{name}: variantId required"
                if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < lowest:
                    return "INVALID_ARGUMENT", f"{name}: quantity must be an integer >= {lowest}"
                seen.append(op["variantId"])
        if not seen:
            return "MISSING_ARGUMENT", "At least one operation is required"
        if len(seen) > MAX_OPERATIONS:
            return "INVALID_ARGUMENT", f"At most {MAX_OPERATIONS} operations per request"
        if len(set(seen)) != len(seen):
            return "INVALID_ARGUMENT", "An inventory item may appear in one operation only"
        for variant in seen:
            if variant not in self.items:
                return "INVENTORY_ITEM_NOT_FOUND", f"Inventory item {variant} not found"
            if variant in self.refused:
                return "INVALID_ARGUMENT", f"Inventory item {variant} cannot be adjusted"
        for name in ("incrementOperations", "decrementOperations"):
            for op in body.get(name) or []:
                item = self.items[op["variantId"]]
                if item["isUnlimited"]:
                    return "STOCK_NOT_TRACKED", f"Inventory item {op['variantId']} is unlimited"
                if name == "decrementOperations" and item["quantity"] < op["quantity"]:
                    return "INSUFFICIENT_STOCK", f"Inventory item {op['variantId']} has too little stock"
        return None

    def _apply(self, body: dict[str, Any]) -> None:
        for op in body.get("incrementOperations") or []:
            self.items[op["variantId"]]["quantity"] += op["quantity"]
        for op in body.get("decrementOperations") or []:
            self.items[op["variantId"]]["quantity"] -= op["quantity"]
        for op in body.get("setFiniteOperations") or []:
            self.items[op["variantId"]].update(isUnlimited=False, quantity=op["quantity"])
        for variant in body.get("setUnlimitedOperations") or []:
            self.items[variant]["isUnlimited"] = True  # the last count stays in `quantity`


def _body(kind: str, subtype: str | None, message: str) -> dict[str, Any]:
    return {"type": kind, "subtype": subtype, "message": message, "details": None, "contextId": "FAKECTX01"}


def _error(
    status: int, kind: str, subtype: str | None, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(_body(kind, subtype, message), status=status, headers=headers)
