"""A local Weebly Developer Platform Store API v1 (127.0.0.1, port 0) built from the documentation
(dev.weebly.com, whose sources are robinwhitmore/jekylltechdocs; read 2026-12-07), for the parts
stocksync relies on.

- Auth: `X-Weebly-Access-Token: <token>`; a missing or unknown token answers 401, a token without the
  scope a route needs answers 403 (read:store-catalog for GETs, write:store-catalog for PATCH). Paths
  are `/v1/user/sites/{site_id}/store/products/...`; another site id answers 404. The error body shape
  is not documented: `{"error": {"code", "message"}}` here.
- GET /products (list view, no SKUs), GET /products/{id} (detail view, `skus` inlined), GET
  /products/{id}/skus (the SKUs' list view, with `inventory`), GET /products/{id}/skus/{sku_id}.
  Lists are paginated: `page` (from 1) and `limit` (default 25, max 200: more, or a non-number, is a
  400); headers X-Resultset-Total, X-Resultset-Page, X-Resultset-Limit, and a Link header (first,
  prev, next, last) when there is more than one page.
- PATCH /products/{id}/skus/{sku_id}: a partial update of the changeable fields (sku, price,
  sale_price, inventory, weight); anything else is a 400; `inventory` is an integer or null (null:
  not tracked). Answers the whole SKU. PUT on a SKU is not an endpoint (405); a PUT on a product
  replaces it and resets every unnamed SKU field (inventory → null), as the docs describe PUT.
- Rate limit: none documented; `throttle_next` answers that many requests 429 + Retry-After.
- `fail_next` answers HTTP statuses (5xx) before serving; `refused` external ids answer PATCH 400.
- "Any call may result in a redirect": `redirect_next` answers that many requests 307 with a Location
  under `/moved` that serves the same API (an identical call there succeeds).
- `event()` builds a webhook body signed as documented: `hmac` = hex HMAC-SHA256 with the app secret
  over {client_id, client_version, event, timestamp, data} as compact JSON (PHP json_encode escaping,
  as Weebly's PHP example hashes it).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

READ, WRITE = "read:store-catalog", "write:store-catalog"
DEFAULT_LIMIT, MAX_LIMIT = 25, 200
CHANGEABLE = frozenset({"sku", "price", "sale_price", "inventory", "weight"})


@dataclass
class WeeblyStats:
    requests: int = 0
    gets: int = 0
    patches: int = 0
    puts: int = 0
    throttled_429: int = 0
    paths: list[str] = field(default_factory=list)


@dataclass
class Sku:
    inventory: int | None = 0
    price: float = 10.0
    weight: float | None = None
    updated: int = 1_700_000_000


class WeeblyFake:
    def __init__(self, token: str, secret: str, site_id: str = "987654321", client_id: str = "1091") -> None:
        self.token, self.secret, self.site_id, self.client_id = token, secret, site_id, client_id
        self.user_id = "123456"
        self.scopes = {READ, WRITE}
        self.products: dict[str, dict[str, Sku]] = {}  # product id -> SKU id -> SKU
        self.stats = WeeblyStats()
        self.throttle_next = 0
        self.retry_after = "1"
        self.fail_next: list[int] = []
        self.refused: set[str] = set()  # "<product>:<sku>" whose PATCH answers 400
        self.redirect_next = 0
        self.webhook_url: str | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/v1/user/sites/{site}/store/{tail:.*}", self._route)
        app.router.add_route("*", "/moved/v1/user/sites/{site}/store/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- state helpers ---------------------------------------------------------------------------

    def sku(self, external_id: str) -> Sku | None:
        product, _, sku = external_id.partition(":")
        return self.products.get(product, {}).get(sku)

    def seed(self, external_id: str, inventory: int | None = 0) -> Sku:
        product, _, sku = external_id.partition(":")
        item = Sku(inventory)
        self.products.setdefault(product, {})[sku] = item
        return item

    def event(
        self,
        product_id: str,
        name: str = "store.product.update",
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        site_id: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        data = {"user_id": self.user_id, "site_id": site_id or self.site_id, "product_id": product_id}
        signed = {
            "client_id": self.client_id,
            "client_version": "1.0.0",
            "event": name,
            "timestamp": int(time.time()) if timestamp is None else timestamp,
            "data": data,
        }
        canonical = json.dumps(signed, separators=(",", ":")).replace("/", "\\/")
        digest = hmac.new((secret or self.secret).encode(), canonical.encode(), hashlib.sha256).hexdigest()
        body = json.dumps({**signed, "hmac": digest}).encode()
        return {"Content-Type": "application/json", "X-Weebly-Attempt": "1"}, body

    async def merchant_edit(self, session: aiohttp.ClientSession, external_id: str, inventory: int) -> None:
        """A change in the Weebly editor: the SKU changes and store.product.update goes to the app."""
        item = self.sku(external_id)
        assert item is not None
        item.inventory = inventory
        if self.webhook_url is not None:
            headers, body = self.event(external_id.partition(":")[0])
            async with session.post(self.webhook_url, data=body, headers=headers) as answer:
                answer.raise_for_status()

    # --- HTTP ------------------------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        self.stats.paths.append(f"{request.method} {request.path_qs}")
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Service Unavailable")
        if self.redirect_next > 0 and not request.path.startswith("/moved/"):
            self.redirect_next -= 1
            raise web.HTTPTemporaryRedirect(f"/moved{request.path_qs}")
        if request.headers.get("X-Weebly-Access-Token") != self.token:
            return _error(401, "Invalid or missing access token")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return _error(429, "Too many requests", {"Retry-After": self.retry_after})
        scope = READ if request.method == "GET" else WRITE
        if scope not in self.scopes:
            return _error(403, f"The access token lacks the {scope} scope")
        if request.match_info["site"] != self.site_id:
            return _error(404, "Site not found")
        parts = request.match_info["tail"].strip("/").split("/")
        if parts[0] != "products" or len(parts) > 4 or (len(parts) >= 3 and parts[2] != "skus"):
            return _error(404, "Unknown endpoint")
        if len(parts) > 1 and parts[1] not in self.products:
            return _error(404, f"Product {parts[1]} not found")
        if request.method == "GET":
            self.stats.gets += 1
            return self._get(request, parts)
        if request.method == "PATCH" and len(parts) == 4:
            self.stats.patches += 1
            return await self._patch(request, parts[1], parts[3])
        if request.method == "PUT" and len(parts) == 2:
            self.stats.puts += 1
            return await self._put(request, parts[1])
        return _error(405, f"{request.method} is not allowed here")

    def _get(self, request: web.Request, parts: list[str]) -> web.Response:
        if len(parts) == 1:
            return self._page(request, [self._product(p, detail=False) for p in self.products])
        product = parts[1]
        if len(parts) == 2:
            return web.json_response(self._product(product, detail=True))
        skus = self.products[product]
        if len(parts) == 3:
            return self._page(request, [self._sku(product, s, detail=False) for s in skus])
        if parts[3] not in skus:
            return _error(404, f"SKU {parts[3]} not found")
        return web.json_response(self._sku(product, parts[3], detail=True))

    def _page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        try:
            page = int(request.query.get("page", "1"))
            limit = int(request.query.get("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            return _error(400, "page and limit must be integers")
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            return _error(400, f"page starts at 1; limit is 1 to {MAX_LIMIT}")
        last = max(1, math.ceil(len(rows) / limit))
        headers = {
            "X-Resultset-Total": str(len(rows)),
            "X-Resultset-Page": str(page),
            "X-Resultset-Limit": str(limit),
        }
        if last > 1:
            url = request.url.with_query(None)
            links = {"first": 1, "prev": page - 1, "next": page + 1, "last": last}
            headers["Link"] = ", ".join(
                f'<{url.with_query(page=n, limit=limit)}>; rel="{rel}"'
                for rel, n in links.items()
                if 1 <= n <= last
            )
        return web.json_response(rows[(page - 1) * limit : page * limit], headers=headers)

    def _product(self, product: str, *, detail: bool) -> dict[str, Any]:
        skus = self.products[product]
        counts = [s.inventory for s in skus.values()]
        body: dict[str, Any] = {
            "user_id": self.user_id,
            "site_id": self.site_id,
            "product_id": product,
            "name": f"Product {product}",
            "published": True,
            "inventory": None if None in counts else sum(c for c in counts if c is not None),
        }
        if detail:
            body["skus"] = [self._sku(product, s, detail=True) for s in skus]
        return body

    def _sku(self, product: str, sku: str, *, detail: bool) -> dict[str, Any]:
        item = self.products[product][sku]
        body: dict[str, Any] = {
            "user_id": self.user_id,
            "site_id": self.site_id,
            "current_price": item.price,
            "product_id": product,
            "product_sku_id": sku,
            "sku": None,
            "price": item.price,
            "sale_price": None,
            "inventory": item.inventory,
            "optionchoices": [],
        }
        if detail:
            body.update(weight=item.weight, product_type="physical", created_date=1_600_000_000)
            body.update(updated_date=item.updated, files=[])
        return body

    async def _patch(self, request: web.Request, product: str, sku: str) -> web.Response:
        item = self.products[product].get(sku)
        if item is None:
            return _error(404, f"SKU {sku} not found")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Request body is not valid JSON")
        if not isinstance(body, dict) or not body:
            return _error(400, "Request body must be a JSON object of fields to update")
        unknown = sorted(set(body) - CHANGEABLE)
        if unknown:
            return _error(400, f"Fields cannot be changed: {', '.join(unknown)}")
        if f"{product}:{sku}" in self.refused:
            return _error(400, "This SKU cannot be updated")
        if "inventory" in body:
            value = body["inventory"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return _error(400, "inventory must be an integer or null")
            item.inventory = value
        item.updated = int(time.time())
        return web.json_response(self._sku(product, sku, detail=True))

    async def _put(self, request: web.Request, product: str) -> web.Response:
        """Replace: SKU fields the body does not give are reset to their defaults (inventory → null)."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Request body is not valid JSON")
        skus = body.get("skus") if isinstance(body, dict) else None
        if not isinstance(body, dict) or "name" not in body or not isinstance(skus, list):
            return _error(400, "name and skus are required")
        for given in skus:
            sku_id = str(given.get("product_sku_id")) if isinstance(given, dict) else ""
            if sku_id in self.products[product]:
                self.products[product][sku_id] = Sku(given.get("inventory"), float(given.get("price", 0)))
        return web.json_response(self._product(product, detail=True))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message}}, status=status, headers=headers)
