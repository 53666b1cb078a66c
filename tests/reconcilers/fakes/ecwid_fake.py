"""A local Ecwid REST API v3 (127.0.0.1, port 0) built from the documentation (docs.ecwid.com, read
2026-12-07), for the parts stocksync relies on.

- `Authorization: Bearer <token>` (the legacy `?token=` query is accepted too); an unknown token or one
  without the scope a route needs answers 403 `{"errorMessage"}` (read_catalog for GETs, update_catalog
  for PUTs). Paths are `/api/v3/{storeId}/...`; another store id answers 403 as well.
- GET /products: `productId` (comma-separated ids; other filters are ignored then), `limit` (default and
  maximum 100; more is a 400), `offset`; answers {total, count, offset, limit, items}. Products with
  `unlimited: true` omit `quantity`. Each product lists its `combinations`.
- GET /products/{id}/combinations: all variations of one product, a JSON array (no paging); 404 if the
  product does not exist.
- PUT /products/{id} and /products/{id}/combinations/{id}: partial update of `quantity` (a number) and
  `unlimited` (a boolean); `quantity` is ignored while the item stays unlimited. Answers {"updateCount": 1};
  404 for an unknown product/variation, 400 for a malformed body, 415 for a non-JSON content type.
- PUT /products/{id}/inventory and /products/{id}/combinations/{id}/inventory: {"quantityDelta": n}.
- POST /batch (at most 500 sub-requests, else 400) answers {"ticket"}; the sub-requests run in order
  (stopOnFirstFailure, default true, leaves the rest NOT_EXECUTED); `deduplicationKey` answers the first
  ticket again. GET /batch?ticket= answers {status, totalRequests, completedRequests, responses[{id,
  status, httpStatusCode, httpStatusLine, httpBody}]}. `batch_pending_polls` answers that many polls
  QUEUED first (the documented asynchronous behaviour).
- Rate limit: `requests_per_minute` (600) per token over a sliding minute, then 429 with Retry-After;
  `throttle_next` answers that many requests 429 + `Retry-After: <retry_after>`.
- `fail_next` answers HTTP statuses (5xx) before serving; `refused` external ids answer a PUT with 400.
- `event()` builds a webhook event signed like Ecwid's: X-Ecwid-Webhook-Signature = base64
  HMAC-SHA256 of "{eventCreated}.{eventId}" keyed with the app's client_secret (the body is not signed).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

READ, WRITE = "read_catalog", "update_catalog"
BATCH_LIMIT = 500
PAGE_LIMIT = 100


@dataclass
class EcwidStats:
    requests: int = 0
    gets: int = 0
    puts: int = 0
    batches: int = 0
    throttled_429: int = 0
    paths: list[str] = field(default_factory=list)


@dataclass
class Item:
    quantity: int | float = 0
    unlimited: bool = False
    behaviour: str = "SHOW"  # outOfStockVisibilityBehaviour

    def shown(self, key: str, value: int) -> dict[str, Any]:
        body: dict[str, Any] = {key: value, "unlimited": self.unlimited, "inStock": self.unlimited}
        if not self.unlimited:
            body.update(quantity=self.quantity, inStock=self.quantity > 0)
        body["outOfStockVisibilityBehaviour"] = self.behaviour
        return body


class EcwidFake:
    def __init__(self, token: str, client_secret: str, store_id: str = "1003") -> None:
        self.token, self.client_secret, self.store_id = token, client_secret, store_id
        self.scopes = {READ, WRITE}
        self.products: dict[int, Item] = {}
        self.variations: dict[int, dict[int, Item]] = {}  # product id -> variation id -> item
        self.stats = EcwidStats()
        self.throttle_next = 0
        self.retry_after = "1"
        self.requests_per_minute = 600
        self.fail_next: list[int] = []
        self.refused: set[str] = set()  # external ids whose PUT answers 400
        self.batch_pending_polls = 0
        self.webhook_url: str | None = None
        self._batches: dict[str, dict[str, Any]] = {}
        self._dedup: dict[str, str] = {}
        self._recent: list[float] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/v3/{store}/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/v3"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- state helpers ---------------------------------------------------------------------------

    def item(self, external_id: str) -> Item | None:
        product, _, variation = external_id.partition(":")
        if not variation:
            return self.products.get(int(product))
        return self.variations.get(int(product), {}).get(int(variation))

    def seed(self, external_id: str, quantity: int | float = 0, *, unlimited: bool = False) -> Item:
        product, _, variation = external_id.partition(":")
        item = Item(quantity, unlimited)
        if variation:
            self.products.setdefault(int(product), Item(0))
            self.variations.setdefault(int(product), {})[int(variation)] = item
        else:
            self.products[int(product)] = item
        return item

    def event(
        self,
        product_id: int,
        event_type: str = "product.updated",
        *,
        secret: str | None = None,
        created: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        event_id = str(uuid.uuid4())
        stamp = int(time.time()) if created is None else created
        body = json.dumps(
            {
                "eventId": event_id,
                "eventCreated": stamp,
                "storeId": int(self.store_id),
                "entityId": product_id,
                "eventType": event_type,
            }
        ).encode()
        signed = hmac.new(
            (secret or self.client_secret).encode(), f"{stamp}.{event_id}".encode(), hashlib.sha256
        )
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        headers["X-Ecwid-Webhook-Signature"] = base64.b64encode(signed.digest()).decode()
        return headers, body

    async def merchant_edit(self, session: aiohttp.ClientSession, external_id: str, quantity: int) -> None:
        """A change in the Ecwid admin: the stock changes and product.updated is sent to the app URL."""
        item = self.item(external_id)
        assert item is not None
        item.quantity, item.unlimited = quantity, False
        if self.webhook_url is not None:
            headers, body = self.event(int(external_id.partition(":")[0]))
            async with session.post(self.webhook_url, data=body, headers=headers) as answer:
                answer.raise_for_status()

    # --- HTTP ------------------------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        self.stats.paths.append(f"{request.method} {request.path}")
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Service Unavailable")
        token = _bearer(request)
        if token != self.token or request.match_info["store"] != self.store_id:
            return _error(403, "Access denied: invalid access token or store id")
        if self.throttle_next > 0 or self._over_budget():
            self.throttle_next = max(0, self.throttle_next - 1)
            self.stats.throttled_429 += 1
            return _error(429, "Too many requests", {"Retry-After": self.retry_after})
        tail = request.match_info["tail"].strip("/")
        if tail == "batch":
            return await self._batch(request)
        body: Any = None
        if request.method in ("PUT", "POST"):
            if request.content_type not in ("application/json", "text/json"):
                return _error(415, "Unsupported content-type: expected application/json or text/json")
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Request body is not valid JSON")
        status, answer = self.handle(request.method, tail, dict(request.query), body)
        return web.json_response(answer, status=status)

    def handle(self, method: str, tail: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """One REST request (also a batch sub-request): (HTTP status, JSON answer)."""
        parts = tail.split("/")
        scope = READ if method == "GET" else WRITE
        if scope not in self.scopes:
            return 403, {"errorMessage": f"Access token doesn't have the {scope} scope"}
        if method == "GET" and parts == ["products"]:
            self.stats.gets += 1
            return self._search(query)
        if method == "GET" and len(parts) == 3 and parts[0] == "products" and parts[2] == "combinations":
            self.stats.gets += 1
            product = _number(parts[1])
            if product not in self.products:
                return 404, {"errorMessage": f"Product #{parts[1]} not found"}
            return 200, [v.shown("id", vid) for vid, v in self.variations.get(product, {}).items()]
        if method == "PUT" and parts[0] == "products" and len(parts) in (2, 3, 4, 5):
            self.stats.puts += 1
            return self._put(parts[1:], body)
        return 404, {"errorMessage": f"Unknown endpoint {method} /{tail}"}

    def _search(self, query: dict[str, str]) -> tuple[int, Any]:
        try:
            limit = int(query.get("limit", PAGE_LIMIT))
            offset = int(query.get("offset", 0))
        except ValueError:
            return 400, {"errorMessage": "Wrong parameter 'limit' or 'offset' value"}
        if not 0 <= limit <= PAGE_LIMIT or offset < 0:
            return 400, {"errorMessage": f"Wrong parameter 'limit' value: maximum allowed is {PAGE_LIMIT}"}
        if "productId" in query:
            ids = [_number(i) for i in query["productId"].split(",") if i.strip()]
            if any(i is None for i in ids):
                return 400, {"errorMessage": "Wrong parameter 'productId' value"}
            found = [i for i in dict.fromkeys(ids) if i in self.products]
        else:
            found = sorted(self.products)
        page = found[offset : offset + limit]
        items = []
        for pid in page:
            product = self.products[pid].shown("id", pid)
            product["combinations"] = [v.shown("id", vid) for vid, v in self.variations.get(pid, {}).items()]
            items.append(product)
        return 200, {
            "total": len(found),
            "count": len(items),
            "offset": offset,
            "limit": limit,
            "items": items,
        }

    def _put(self, ids: list[str], body: Any) -> tuple[int, Any]:
        inventory = ids[-1] == "inventory"
        ids = ids[:-1] if inventory else ids
        if len(ids) not in (1, 3) or (len(ids) == 3 and ids[1] != "combinations"):
            return 404, {"errorMessage": "Unknown endpoint"}
        external_id = ids[0] if len(ids) == 1 else f"{ids[0]}:{ids[2]}"
        if any(_number(i) is None for i in ids[::2]) or (item := self.item(external_id)) is None:
            return 404, {"errorMessage": f"Product or variation {external_id} not found"}
        if not isinstance(body, dict):
            return 400, {"errorMessage": "Request body must be a JSON object"}
        if external_id in self.refused:
            return 400, {
                "errorMessage": f"Variation {external_id} cannot be updated: SKU is empty",
                "errorCode": "INVALID_VALUE",
            }
        if inventory:
            delta = body.get("quantityDelta")
            if isinstance(delta, bool) or not isinstance(delta, int):
                return 400, {"errorMessage": "quantityDelta must be an integer"}
            item.quantity += delta
            return 200, {"updateCount": 1}
        quantity, unlimited = body.get("quantity", item.quantity), body.get("unlimited", item.unlimited)
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int | float)
            or not isinstance(unlimited, bool)
        ):
            return 400, {"errorMessage": "Wrong value: quantity must be a number, unlimited a boolean"}
        item.unlimited = unlimited
        if not unlimited:
            item.quantity = quantity
        return 200, {"updateCount": 1}

    async def _batch(self, request: web.Request) -> web.Response:
        self.stats.batches += 1
        if request.method == "GET":
            ticket = request.query.get("ticket", "")
            if ticket not in self._batches:
                return _error(404, "Batch ticket not found")
            if self.batch_pending_polls > 0:
                self.batch_pending_polls -= 1
                state = self._batches[ticket]
                return web.json_response(
                    {"status": "QUEUED", "totalRequests": state["totalRequests"], "completedRequests": 0}
                )
            return web.json_response(self._batches[ticket])
        if request.method != "POST":
            return _error(405, "Method not allowed")
        key = request.query.get("deduplicationKey")
        if key and key in self._dedup:
            return web.json_response({"ticket": self._dedup[key]})
        try:
            subs = await request.json()
        except ValueError:
            return _error(400, "Can't create batch. Batch request body is invalid")
        if not isinstance(subs, list) or not 0 < len(subs) <= BATCH_LIMIT:
            return _error(400, f"Can't create batch: at most {BATCH_LIMIT} requests in one batch")
        stop = request.query.get("stopOnFirstFailure", "true").lower() != "false"
        responses: list[dict[str, Any]] = []
        failed = False
        for sub in subs:
            if not isinstance(sub, dict) or not isinstance(sub.get("path"), str) or "method" not in sub:
                return _error(400, "Can't create batch. Batch request body is invalid")
            if failed and stop:
                responses.append({"id": sub.get("id"), "status": "NOT_EXECUTED"})
                continue
            path, _, query = sub["path"].lstrip("/").partition("?")
            params = dict(p.partition("=")[::2] for p in query.split("&") if p)
            status, answer = self.handle(str(sub["method"]), path, params, sub.get("body"))
            failed = failed or status != 200
            responses.append(
                {
                    "id": sub.get("id"),
                    "status": "COMPLETED" if status == 200 else "FAILED",
                    "httpStatusCode": status,
                    "httpStatusLine": "OK" if status == 200 else "Error",
                    "httpBody": answer,
                }
            )
        ticket = str(uuid.uuid4())
        self._batches[ticket] = {
            "status": "COMPLETED",
            "totalRequests": len(subs),
            "completedRequests": len(subs),
            "responses": responses,
        }
        if key:
            self._dedup[key] = ticket
        return web.json_response({"ticket": ticket})

    def _over_budget(self) -> bool:
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < 60] + [now]
        return len(self._recent) > self.requests_per_minute


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.query.get("token")


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessage": message}, status=status, headers=headers)
