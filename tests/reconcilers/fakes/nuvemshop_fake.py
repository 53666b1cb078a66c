"""A local Nuvemshop / Tiendanube API v1 (127.0.0.1, port 0) built from the public docs (README,
product.md, product_variant.md, webhook.md, the multi-inventory guide):

- every request needs `Authentication: bearer <token>` (401 otherwise) and a User-Agent (400 otherwise);
  writes need `Content-Type: application/json` (415 otherwise).
- GET /v1/{store}/products: page (1-based) / per_page (default 30, at most 200) / since_id (ids after
  it, ascending) / fields; `Link` (rel next/last) and `X-Total-Count` headers; a page past the last is
  404. GET /v1/{store}/products/{id}: one product or 404.
- PATCH /v1/{store}/products/{id}/variants: a list of {id, ...} updating existing variants of that
  product only; all-or-nothing: a variant id not of this product, a repeated id or a stock that is not
  an integer or null answers 422 (nothing written); 200 answers the whole updated collection. PUT on
  the collection (replace: deletes omitted variants) is refused here with 405 so a test notices it.
- multi-inventory: a variant with `levels` shows `inventory_levels` and `stock` = their total; a
  PATCH of `stock` alone updates the first level, `inventory_levels` updates the named location.
- rate limit: a leaky bucket (`bucket` requests, leaking `leak_per_s`); every answer carries
  X-Rate-Limit-Limit / -Remaining / -Reset (ms until empty); a full bucket answers 429 without
  Retry-After. `throttle_next` forces that many 429s, `fail_next` that many 5xx.
- `webhook(product_id)` is the product/updated notification, signed X-Linkedstore-HMAC-SHA256 (hex
  HMAC-SHA256 of the body with the app secret). Every write also queues one (as the store does).
A test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_PAGE, MAX_PAGE = 30, 200


@dataclass
class FakeVariant:
    id: int
    product_id: int
    stock: int | None  # None: infinite (stock_management false)
    levels: dict[str, int] | None = None  # multi-inventory: location id -> stock

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "product_id": self.product_id,
            "price": "25.00",
            "sku": f"SKU-{self.id}",
            "values": [{"es": f"V{self.id}"}],
            "stock_management": self.stock is not None or self.levels is not None,
            "stock": sum(self.levels.values()) if self.levels is not None else self.stock,
            "updated_at": "2026-12-07T09:00:00-03:00",
        }
        if self.levels is not None:
            body["inventory_levels"] = [{"location_id": k, "stock": v} for k, v in self.levels.items()]
        return body


@dataclass
class NuvemshopStats:
    requests: int = 0
    gets: int = 0
    patches: int = 0
    throttled_429: int = 0
    patch_sizes: list[int] = field(default_factory=list)


class NuvemshopFake:
    def __init__(self, token: str, app_secret: str, store_id: str = "123456") -> None:
        self.token, self.app_secret, self.store_id = token, app_secret, store_id
        self.products: dict[int, dict[int, FakeVariant]] = {}
        self.stats = NuvemshopStats()
        self.bucket, self.leak_per_s = 40, 2.0
        self._level, self._stamp = 0.0, time.monotonic()
        self.throttle_next = 0
        self.fail_next: list[int] = []
        self.refused_variants: set[int] = set()  # a PATCH naming one answers 422 (e.g. deleted since)
        self.webhooks: list[bytes] = []  # product/updated bodies the store would POST
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        base = f"/v1/{self.store_id}"
        app.router.add_get(base + "/products", self._list)
        app.router.add_get(base + "/products/{pid}", self._one)
        app.router.add_route("*", base + "/products/{pid}/variants", self._variants)
        app.middlewares.append(self._gate)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, variant: FakeVariant) -> None:
        self.products.setdefault(variant.product_id, {})[variant.id] = variant

    def variant(self, variant_id: int) -> FakeVariant:
        return next(p[variant_id] for p in self.products.values() if variant_id in p)

    def webhook(self, product_id: int) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {"store_id": int(self.store_id), "event": "product/updated", "id": product_id}
        ).encode()
        return self.signed(body), body

    def signed(self, body: bytes) -> dict[str, str]:
        signature = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Linkedstore-HMAC-SHA256": signature, "Content-Type": "application/json"}

    def _rate_headers(self) -> dict[str, str]:
        remaining = max(0, int(self.bucket - self._level))
        reset_ms = int(self._level / self.leak_per_s * 1000)
        return {"X-Rate-Limit-Limit": str(self.bucket), "X-Rate-Limit-Remaining": str(remaining),
                "X-Rate-Limit-Reset": str(reset_ms)}  # fmt: skip

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests += 1
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._stamp) * self.leak_per_s)
        self._stamp = now
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Service Unavailable")
        if request.headers.get("Authentication") != f"bearer {self.token}":
            return _error(401, "Unauthorized", "Invalid access token")
        if not request.headers.get("User-Agent", "").strip():
            return _error(400, "Bad Request", "A User-Agent header is required")
        if self.throttle_next > 0 or self._level + 1 > self.bucket:
            self.throttle_next = max(0, self.throttle_next - 1)
            self.stats.throttled_429 += 1
            return _error(429, "Too Many Requests", "Rate limit exceeded", self._rate_headers())
        self._level += 1
        response: web.StreamResponse = await handler(request)
        response.headers.update(self._rate_headers())
        return response

    async def _list(self, request: web.Request) -> web.Response:
        self.stats.gets += 1
        try:
            page = int(request.query.get("page", "1"))
            per_page = min(int(request.query.get("per_page", str(DEFAULT_PAGE))), MAX_PAGE)
            since = int(request.query.get("since_id", "0"))
        except ValueError:
            return _error(422, "Unprocessable Entity", "page, per_page and since_id must be integers")
        if page < 1 or per_page < 1:
            return _error(422, "Unprocessable Entity", "page and per_page must be positive")
        ids = sorted(i for i in self.products if i > since)
        chunk = ids[(page - 1) * per_page : page * per_page]
        if not chunk and page > 1:
            return _error(
                404, "Not Found", "Last page is 1" if not ids else f"Last page is {-(-len(ids) // per_page)}"
            )
        last = max(1, -(-len(ids) // per_page))
        links: list[str] = []
        query = {k: v for k, v in request.query.items() if k != "page"}
        for rel, number in (("next", page + 1), ("last", last)):
            if rel == "next" and page >= last:
                continue
            url = request.url.with_query({**query, "page": str(number)})
            links.append(f'<{url}>; rel="{rel}"')
        headers = {"X-Total-Count": str(len(ids))} | ({"Link": ", ".join(links)} if links else {})
        return web.json_response([self._product(i) for i in chunk], headers=headers)

    async def _one(self, request: web.Request) -> web.Response:
        self.stats.gets += 1
        product_id = _int(request.match_info["pid"])
        if product_id not in self.products:
            return _error(404, "Not Found", "Product with such id does not exist")
        return web.json_response(self._product(product_id))

    def _product(self, product_id: int) -> dict[str, Any]:
        variants = [v.as_json() for v in self.products[product_id].values()]
        return {"id": product_id, "name": {"es": f"Producto {product_id}"}, "variants": variants}

    async def _variants(self, request: web.Request) -> web.Response:
        product_id = _int(request.match_info["pid"])
        if product_id not in self.products:
            return _error(404, "Not Found", "Product with such id does not exist")
        if request.method == "GET":
            self.stats.gets += 1
            return web.json_response([v.as_json() for v in self.products[product_id].values()])
        if request.method != "PATCH":  # PUT replaces the collection: never what a stock sync wants
            return _error(405, "Method Not Allowed", f"{request.method} is not allowed here")
        if not request.content_type.startswith("application/json"):
            return _error(415, "Unsupported Media Type", "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "Problems parsing JSON"}, status=400)
        problem = self._refusal(product_id, body)
        if problem is not None:
            return problem
        self.stats.patches += 1
        self.stats.patch_sizes.append(len(body))
        variants = self.products[product_id]
        for update in body:
            self._write(variants[update["id"]], update)
        self.webhooks.append(self.webhook(product_id)[1])
        return web.json_response([v.as_json() for v in variants.values()])

    def _refusal(self, product_id: int, body: Any) -> web.Response | None:
        if not isinstance(body, list) or not all(isinstance(u, dict) and "id" in u for u in body):
            return _error(422, "Unprocessable Entity", "Invalid input format")
        ids = [u["id"] for u in body]
        unknown = [i for i in ids if i not in self.products[product_id] or i in self.refused_variants]
        if unknown:
            return _error(
                422, "Unprocessable Entity", "Variants must belong to the product", failed_variant_ids=unknown
            )
        if len(set(ids)) != len(ids):
            return _error(422, "Unprocessable Entity", "Variants cannot be repeated")
        for update in body:
            stocks = [update.get("stock")] + [lv.get("stock") for lv in update.get("inventory_levels") or []]
            if any(s is not None and (isinstance(s, bool) or not isinstance(s, int)) for s in stocks):
                return _error(
                    422, "Validation error", "Validation error", stock=["The stock must be an integer."]
                )
        return None

    @staticmethod
    def _write(variant: FakeVariant, update: dict[str, Any]) -> None:
        levels = update.get("inventory_levels")
        if variant.levels is not None and levels:
            for level in levels:
                variant.levels[str(level["location_id"])] = level["stock"] or 0
        elif variant.levels is not None and "stock" in update:
            first = next(iter(variant.levels))  # stock alone: the first inventory level
            variant.levels[first] = update["stock"] or 0
        elif "stock" in update:
            variant.stock = update["stock"]


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _error(
    status: int, message: str, description: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"code": status, "message": message, "description": description, **extra}
    return web.json_response(body, status=status, headers=headers)
