"""A local Webflow Data API v2 inventory server (127.0.0.1, port 0), written from Webflow's documentation.

- GET/PATCH /v2/collections/{sku_collection_id}/items/{sku_id}/inventory: one SKU per request.
  `Authorization: Bearer <token>` (401 `not_authorized`); a token without the scope the operation
  needs (`ecommerce:read` for GET, `ecommerce:write` for PATCH) gets 403 `missing_scopes`; a site
  without ecommerce answers 409 `ecommerce_not_enabled`; an unknown collection or SKU 404.
- PATCH body: `inventoryType` required (finite | infinite); `quantity` (absolute) or `updateQuantity`
  (delta), never both, only with finite (else 400 `validation_error`). The answer is the inventory.
- Error bodies `{code, message, externalReference, details}` as in the error-handling page.
- Rate limit per token: `rate_limit` requests per minute window (`window_s`) (60: the documented default), every
  answer carries X-RateLimit-Limit / X-RateLimit-Remaining; over it, 429 `too_many_requests` with
  Retry-After (`retry_after`, "60" as documented). `throttle_next` forces that many 429s.
- `manual_edit()` is a change in the Designer/an order: it changes the state and POSTs the signed
  `ecomm_inventory_changed` webhook to `webhook_url`; with `notify_api_writes` our own PATCHes are
  announced the same way (the event fires for every inventory change).
- `spec` (tests.spec_validation.Spec, optional): every request received and answer sent is checked
  against Webflow's OpenAPI file; what it refuses is kept in `violations`.
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

_PATH = "/v2/collections/{collection}/items/{sku}/inventory"
_SPEC_PATH = "/collections/{collection}/items/{sku}/inventory"  # relative to the spec's server


@dataclass
class Inventory:
    inventory_type: str = "finite"
    quantity: float = 0

    def as_json(self, sku: str) -> dict[str, Any]:
        return {"id": sku, "quantity": self.quantity, "inventoryType": self.inventory_type}


@dataclass
class WebflowStats:
    requests: int = 0
    gets: int = 0
    patches: int = 0
    throttled: int = 0
    patch_bodies: list[dict[str, Any]] = field(default_factory=list)


class WebflowFake:
    def __init__(
        self,
        token: str,
        webhook_secret: str,
        collection_id: str,
        *,
        scopes: frozenset[str] = frozenset({"ecommerce:read", "ecommerce:write"}),
        spec: Any = None,
    ) -> None:
        self.token, self.webhook_secret, self.collection_id = token, webhook_secret, collection_id
        self.scopes = scopes
        self.spec = spec
        self.violations: list[str] = []
        self.skus: dict[str, Inventory] = {}
        self.stats = WebflowStats()
        self.ecommerce_enabled = True
        self.rate_limit = 60
        self.window_s = 60.0  # the documented minute; tests shorten it
        self.retry_after = "60"
        self.throttle_next = 0
        self.fail_next: list[int] = []  # 5xx statuses to answer before serving normally
        self.webhook_url: str | None = None
        self.notify_api_writes = False
        self.deliveries: list[tuple[str, Any]] = []  # (sku, the receiver's answer) per delivered webhook
        self._window: tuple[float, int] = (0.0, 0)  # (start of the minute window, requests in it)
        self._last_stamp = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", _PATH, self._inventory)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/v2"

    async def stop(self) -> None:
        for task in list(self._tasks):
            await task
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the API ---------------------------------------------------------------------------------

    async def _inventory(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        collection, sku = request.match_info["collection"], request.match_info["sku"]
        raw = await request.read()
        body = self._parse(raw)
        self._check_request(request, collection, sku, body)
        status, answer, headers = self._answer(request, collection, sku, body)
        self._check_response(request.method, collection, sku, status, answer)
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, request: web.Request, collection: str, sku: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, _error("internal_error", "An Internal Error occurred"), {}
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, _error("not_authorized", "Request not authorized"), {}
        limited = self._count()
        if self.throttle_next > 0 or limited is not None:
            self.throttle_next = max(self.throttle_next - 1, 0)
            self.stats.throttled += 1
            headers = {**(limited or self._rate_headers()), "Retry-After": self.retry_after}
            return 429, _error("too_many_requests", "Too many requests"), headers
        headers = self._rate_headers()
        if request.method not in ("GET", "PATCH"):
            return 405, _error("bad_request", "Method not allowed"), headers
        needed = "ecommerce:read" if request.method == "GET" else "ecommerce:write"
        if needed not in self.scopes:
            message = f"OAuthForbidden: You are missing the following scopes - {needed}"
            return 403, _error("missing_scopes", message), headers
        if not self.ecommerce_enabled:
            return 409, _error("ecommerce_not_enabled", "Ecommerce is not yet initialized"), headers
        if collection != self.collection_id:
            return 404, _error("collection_not_found", "Requested resource not found"), headers
        inventory = self.skus.get(sku)
        if inventory is None:
            return 404, _error("resource_not_found", "Requested resource not found: SKU"), headers
        if request.method == "GET":
            self.stats.gets += 1
            return 200, inventory.as_json(sku), headers
        problem = _invalid_patch(body)
        if problem is not None:
            return 400, _error("validation_error", problem), headers
        self.stats.patches += 1
        self.stats.patch_bodies.append(body)
        self._write(sku, body)
        if self.notify_api_writes:
            self._announce(sku)
        return 200, self.skus[sku].as_json(sku), headers

    def _write(self, sku: str, body: dict[str, Any]) -> None:
        inventory = self.skus[sku]
        inventory.inventory_type = body["inventoryType"]
        if body["inventoryType"] == "infinite":
            return
        if "quantity" in body:
            inventory.quantity = body["quantity"]
        elif "updateQuantity" in body:
            inventory.quantity += body["updateQuantity"]

    def _count(self) -> dict[str, str] | None:
        """Count a request in the token's minute window; the 429 headers when it is over the limit."""
        now = time.monotonic()
        start, used = self._window
        if now - start >= self.window_s:
            start, used = now, 0
        if used >= self.rate_limit:
            self._window = (start, used)
            return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0"}
        self._window = (start, used + 1)
        return None

    def _rate_headers(self) -> dict[str, str]:
        left = max(self.rate_limit - self._window[1], 0)
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(left)}

    # --- webhooks --------------------------------------------------------------------------------

    def signed_webhook(
        self, sku: str, inventory: Inventory | None = None, *, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The ecomm_inventory_changed delivery for a SKU's inventory (default: its current one),
        signed as documented."""
        shown = inventory or self.skus[sku]
        body = json.dumps({"triggerType": "ecomm_inventory_changed", "payload": shown.as_json(sku)})
        stamp = max(int(time.time() * 1000), self._last_stamp + 1)  # deliveries in order, ms apart
        self._last_stamp = stamp
        key = (secret or self.webhook_secret).encode()
        signature = hmac.new(key, f"{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "x-webflow-timestamp": str(stamp),
            "x-webflow-signature": signature,
        }
        return headers, body.encode()

    async def manual_edit(
        self, session: aiohttp.ClientSession, sku: str, quantity: float | None, *, infinite: bool = False
    ) -> None:
        """The merchant edits the SKU's inventory in Webflow; the webhook announces it."""
        self.skus[sku] = Inventory("infinite" if infinite else "finite", 0 if quantity is None else quantity)
        if self.webhook_url is not None:
            await self._deliver(session, sku)

    def _announce(self, sku: str) -> None:
        async def deliver() -> None:
            async with aiohttp.ClientSession() as session:
                await self._deliver(session, sku)

        task = asyncio.get_running_loop().create_task(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, session: aiohttp.ClientSession, sku: str) -> None:
        assert self.webhook_url is not None
        headers, body = self.signed_webhook(sku)
        async with session.post(self.webhook_url, data=body, headers=headers) as answer:
            answer.raise_for_status()  # only a 200 counts as delivered
            self.deliveries.append((sku, await answer.json(content_type=None)))

    # --- the OpenAPI file ------------------------------------------------------------------------

    def _parse(self, raw: bytes) -> Any:
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            return raw

    def _check_request(self, request: web.Request, collection: str, sku: str, body: Any) -> None:
        if self.spec is None:
            return
        path = _SPEC_PATH.format(collection=collection, sku=sku)
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        try:
            self.spec.check_request(request.method, path, headers=headers, body=body)
        except AssertionError as exc:
            self.violations.append(str(exc))

    def _check_response(self, method: str, collection: str, sku: str, status: int, answer: Any) -> None:
        if self.spec is None:
            return
        try:
            self.spec.check_response(
                method, _SPEC_PATH.format(collection=collection, sku=sku), status, answer
            )
        except AssertionError as exc:
            self.violations.append(str(exc))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "externalReference": None, "details": []}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _invalid_patch(body: Any) -> str | None:
    """Why Webflow would refuse this PATCH body (400), None when it is valid."""
    if not isinstance(body, dict):
        return "Bad Request: Request is malformed"
    kind = body.get("inventoryType")
    if kind not in ("finite", "infinite"):
        return "inventoryType: must be finite or infinite"
    given = [name for name in ("quantity", "updateQuantity") if name in body]
    if len(given) > 1:
        return "quantity and updateQuantity cannot be used together"
    if given and kind != "finite":
        return f"{given[0]} can only be used with the finite inventory type"
    if given and not _number(body[given[0]]):
        return f"{given[0]}: must be a number"
    return None
