"""A local Printful API v2 (127.0.0.1, port 0) written from the v2 OpenAPI description (2.0.0-beta),
strict where the description is:

- Every request needs `Authorization: Bearer <token>` (else 401 {code, result, error{reason, message}}).
  With `store_id` set the token is account-level: `X-PF-Store-Id` must name that store (else 400).
- GET /v2/catalog-products/{id}/availability: every variant of the product, sorted by id, paged with
  `limit` (1..100, default 20; out of range: 400) and `offset`; `paging {total, offset, limit}`,
  `filter_settings`, `_links.next` while more follow. `selling_region_name` (default worldwide; `all`:
  every region) and `techniques` (comma-separated) filter what each variant lists.
- GET /v2/catalog-variants/{id}/availability: one variant (404 when no product has it).
- GET /v2/warehouse-products (paged like the above) and GET /v2/warehouse-products/{id}: warehouse
  variants with `quantity` (sum of `available`), the single product also with
  `stock_location[] {facility, stocked, available}`.
- Rate limit: a leaky bucket of `capacity` (120) tokens refilled at 2 per second on the monotonic clock;
  every answer carries X-Ratelimit-Policy/-Limit/-Remaining/-Reset; an empty bucket answers 429 with
  Retry-After (whole seconds until a token is back).
- Webhooks: `send_stock_updated()` posts a `catalog_stock_updated` event signed as the docs say
  (`x-pf-webhook-signature`: hex HMAC-SHA256 of the raw body with the config's secret key, decoded from
  hex as implementations do; `x-pf-webhook-public-key`: the config's public key).
- Knobs: `drain()` (another app spent the shared bucket), `truncate_next` (the next page holds one item fewer than it should), `fail_next` (5xx
  statuses), `answers` (every (method, path with query, status, body) it answered, for spec checks).
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

TECHNIQUE_KEYS = ("dtg", "digital", "cut-sew", "uv", "embroidery", "sublimation", "dtfilm")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    body: Any


@dataclass
class PrintfulFake:
    token: str
    secret_key: str  # hex, as Printful hands it out once when the webhook config is created
    public_key: str = "c29tZVB1YmxpY0tleQ=="
    store_id: str | None = None
    capacity: int = 120
    # catalog product -> variant -> technique -> selling region -> availability
    catalog: dict[int, dict[int, dict[str, dict[str, str]]]] = field(default_factory=dict)
    # warehouse product -> variant -> facility name -> (stocked, available)
    warehouse: dict[int, dict[int, dict[str, tuple[int, int]]]] = field(default_factory=dict)
    truncate_next: bool = False
    fail_next: list[int] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _tokens: float = -1.0
    _stamp: float = 0.0
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v2/catalog-products/{id}/availability", self._product_availability)
        app.router.add_get("/v2/catalog-variants/{id}/availability", self._variant_availability)
        app.router.add_get("/v2/warehouse-products", self._warehouse_products)
        app.router.add_get("/v2/warehouse-products/{id}", self._warehouse_product)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def drain(self) -> None:
        """Another app of the merchant spends the whole shared budget now."""
        self._take()
        self._tokens = 0.0

    @property
    def throttled(self) -> int:
        return sum(1 for s in self.seen if s.status == 429)

    # -- the bucket ---------------------------------------------------------------------------------

    def _take(self) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        if self._tokens < 0:
            self._tokens, self._stamp = float(self.capacity), now
        self._tokens = min(float(self.capacity), self._tokens + (now - self._stamp) * 2.0)
        self._stamp = now
        allowed = self._tokens >= 1.0
        if allowed:
            self._tokens -= 1.0
        headers = {
            "X-Ratelimit-Policy": f"{self.capacity};w=60;",
            "X-Ratelimit-Limit": str(self.capacity),
            "X-Ratelimit-Remaining": str(int(self._tokens)),
            "X-Ratelimit-Reset": f"{(self.capacity - self._tokens) / 2.0:.1f}",
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil((1.0 - self._tokens) / 2.0)))
        return allowed, headers

    # -- common checks and answers ------------------------------------------------------------------

    async def _answer(
        self, request: web.Request, status: int, body: Any, headers: dict[str, str]
    ) -> web.Response:
        self.seen.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), status, body)
        )
        return web.json_response(body, status=status, headers=headers)

    async def _guard(self, request: web.Request) -> web.Response | dict[str, str]:
        """The answer refusing the request, or the rate-limit headers of an accepted one."""
        if self.fail_next:
            status = self.fail_next.pop(0)
            problem = {
                "type": "https://developers.printful.com/docs/v2-beta/#errors",
                "status": status,
                "title": "Server Error",
                "details": "try again",
            }
            return await self._answer(request, status, problem, {})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return await self._answer(request, 401, _error(401, "Malformed Authorization header."), {})
        if self.store_id is not None and request.headers.get("X-PF-Store-Id") != self.store_id:
            return await self._answer(request, 400, _error(400, "This endpoint requires store_id"), {})
        allowed, headers = self._take()
        if not allowed:
            return await self._answer(request, 429, _error(429, "Too Many Requests"), headers)
        return headers

    def _paging(self, request: web.Request) -> tuple[int, int] | str:
        try:
            limit = int(request.query.get("limit", "20"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return "limit and offset must be integers"
        if not 1 <= limit <= 100 or offset < 0:
            return "limit must be 1..100 and offset >= 0"
        return limit, offset

    def _page(
        self, request: web.Request, items: list[Any], limit: int, offset: int
    ) -> tuple[list[Any], dict[str, Any]]:
        page = items[offset : offset + limit]
        if self.truncate_next and page:
            self.truncate_next = False
            page = page[:-1]
        base = f"{request.url.with_query(None)}"
        links: dict[str, Any] = {"self": {"href": f"{base}?limit={limit}&offset={offset}"}}
        if offset + limit < len(items):
            links["next"] = {"href": f"{base}?limit={limit}&offset={offset + limit}"}
        return page, {"paging": {"total": len(items), "offset": offset, "limit": limit}, "_links": links}

    # -- catalog ------------------------------------------------------------------------------------

    def _filters(self, request: web.Request) -> tuple[str, tuple[str, ...]] | str:
        region = request.query.get("selling_region_name", "worldwide")
        techniques = tuple(t for t in request.query.get("techniques", "").split(",") if t)
        if any(t not in TECHNIQUE_KEYS for t in techniques):
            return "unknown technique"
        return region, techniques

    def _variant(
        self,
        variant: int,
        regions_by_technique: dict[str, dict[str, str]],
        region: str,
        techniques: tuple[str, ...],
    ) -> dict[str, Any]:
        listed = []
        for technique, regions in sorted(regions_by_technique.items()):
            if techniques and technique not in techniques:
                continue
            selling = [
                {"name": name, "availability": value, "placement_option_availability": []}
                for name, value in sorted(regions.items())
                if region in ("all", name)
            ]
            listed.append({"technique": technique, "selling_regions": selling})
        return {
            "catalog_variant_id": variant,
            "techniques": listed,
            "_links": {"variant": {"href": f"https://api.printful.com/v2/catalog-variants/{variant}"}},
        }

    def _filter_settings(self, region: str, techniques: tuple[str, ...]) -> list[dict[str, str]]:
        settings = [{"name": "selling_region_name", "value": region}]
        if techniques:
            settings.append({"name": "techniques", "value": ",".join(techniques)})
        return settings

    async def _product_availability(self, request: web.Request) -> web.Response:
        guarded = await self._guard(request)
        if isinstance(guarded, web.Response):
            return guarded
        product = self.catalog.get(_int(request.match_info["id"]))
        if product is None:
            return await self._answer(request, 404, _error(404, "Not found"), guarded)
        paging, filters = self._paging(request), self._filters(request)
        if isinstance(paging, str) or isinstance(filters, str):
            reason = paging if isinstance(paging, str) else str(filters)
            return await self._answer(request, 400, _error(400, reason), guarded)
        items = [self._variant(v, t, *filters) for v, t in sorted(product.items())]
        page, meta = self._page(request, items, *paging)
        meta["_links"]["product"] = {
            "href": f"https://api.printful.com/v2/catalog-products/{request.match_info['id']}"
        }
        body = {"data": page, **meta, "filter_settings": self._filter_settings(*filters)}
        return await self._answer(request, 200, body, guarded)

    async def _variant_availability(self, request: web.Request) -> web.Response:
        guarded = await self._guard(request)
        if isinstance(guarded, web.Response):
            return guarded
        number = _int(request.match_info["id"])
        techniques = next((p[number] for p in self.catalog.values() if number in p), None)
        filters = self._filters(request)
        if techniques is None:
            return await self._answer(request, 404, _error(404, "Not found"), guarded)
        if isinstance(filters, str):
            return await self._answer(request, 400, _error(400, filters), guarded)
        body = {
            "data": self._variant(number, techniques, *filters),
            "filter_settings": self._filter_settings(*filters),
            "_links": {"self": {"href": str(request.url.with_query(None))}},
        }
        return await self._answer(request, 200, body, guarded)

    # -- warehouse ----------------------------------------------------------------------------------

    def _warehouse_item(
        self, product: int, variants: dict[int, dict[str, tuple[int, int]]], *, locations: bool
    ) -> dict[str, Any]:
        listed = []
        for number, stock in sorted(variants.items()):
            variant: dict[str, Any] = {
                "id": number,
                "name": f"Variant {number}",
                "sku": f"SKU-{number}",
                "image_url": "https://example.invalid/image.png",
                "retail_price": "10.00",
                "quantity": sum(available for _, available in stock.values()),
                "dimensions": {
                    "width": 1.0,
                    "height": 1.0,
                    "length": 1.0,
                    "weight": 1.0,
                    "measurement_system": "metric",
                },
                "_links": {"self": {"href": f"https://api.printful.com/v2/warehouse-variants/{number}"}},
            }
            if locations:
                variant["stock_location"] = [
                    {"facility": name, "stocked": stocked, "available": available}
                    for name, (stocked, available) in sorted(stock.items())
                ]
            listed.append(variant)
        return {
            "id": product,
            "name": f"Product {product}",
            "status": "approved",
            "currency": "USD",
            "image_url": "https://example.invalid/product.png",
            "retail_price": "10.00",
            "warehouse_variants": listed,
            "_links": {"self": {"href": f"https://api.printful.com/v2/warehouse-products/{product}"}},
        }

    async def _warehouse_products(self, request: web.Request) -> web.Response:
        guarded = await self._guard(request)
        if isinstance(guarded, web.Response):
            return guarded
        paging = self._paging(request)
        if isinstance(paging, str):
            return await self._answer(request, 400, _error(400, paging), guarded)
        items = [self._warehouse_item(p, v, locations=False) for p, v in sorted(self.warehouse.items())]
        page, meta = self._page(request, items, *paging)
        return await self._answer(request, 200, {"data": page, **meta}, guarded)

    async def _warehouse_product(self, request: web.Request) -> web.Response:
        guarded = await self._guard(request)
        if isinstance(guarded, web.Response):
            return guarded
        number = _int(request.match_info["id"])
        if number not in self.warehouse:
            return await self._answer(
                request,
                404,
                {"data": "Not found", "error": {"reason": "NotFound", "message": "Not found"}},
                guarded,
            )
        body = {
            "data": self._warehouse_item(number, self.warehouse[number], locations=True),
            "_links": {"self": {"href": str(request.url.with_query(None))}},
        }
        return await self._answer(request, 200, body, guarded)

    # -- webhooks -----------------------------------------------------------------------------------

    def stock_event(
        self, changed: list[tuple[int, int, str]], occurred_at: str = "2026-12-07T09:00:00Z"
    ) -> bytes:
        """The raw body of a `catalog_stock_updated` event for (product, variant, availability)."""
        data = [
            {"catalog_product_id": p, "catalog_variant_id": v, "techniques": ["dtg"], "availability": a}
            for p, v, a in changed
        ]
        event = {
            "type": "catalog_stock_updated",
            "occurred_at": occurred_at,
            "retries": 0,
            "store_id": 12,
            "data": data,
        }
        return json.dumps(event).encode()

    def signed_headers(self, body: bytes) -> dict[str, str]:
        signature = hmac.new(bytes.fromhex(self.secret_key), body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "x-pf-webhook-signature": signature,
            "x-pf-webhook-public-key": self.public_key,
        }

    async def send_stock_updated(
        self, session: aiohttp.ClientSession, url: str, changed: list[tuple[int, int, str]]
    ) -> int:
        """Deliver a signed `catalog_stock_updated` event to `url`; the receiver's status."""
        body = self.stock_event(changed)
        async with session.post(url, data=body, headers=self.signed_headers(body)) as answer:
            return answer.status


def _error(status: int, message: str) -> dict[str, Any]:
    reason = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 429: "TooManyRequests"}.get(
        status, "Error"
    )
    return {"code": status, "result": message, "error": {"reason": reason, "message": message}}


def _int(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else -1
