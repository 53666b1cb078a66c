"""A local WooCommerce REST (wc/v3) server on 127.0.0.1, faithful to the behaviour the reconciler uses.

Documented behaviour reproduced (woocommerce.github.io/woocommerce-rest-api-docs and core
class-wc-rest-controller.php / class-wc-webhook.php / abstract-wc-product.php, read 2026-11-23):
HTTP Basic consumer-key auth (401 woocommerce_rest_cannot_view), list endpoints with `include`,
`per_page` 1..100 (else 400 rest_invalid_param), `page`, `_fields`, X-WP-Total / X-WP-TotalPages /
Link rel="next"; variations only under their parent; /batch with at most 100 objects in total (else
413 woocommerce_rest_request_entity_too_large) answering each failed update as {"id", "error"};
stock_status derived from the quantity when stock is managed (threshold 0, backorders); host-style
429 with Retry-After; product.updated webhooks (variations too) signed with base64 HMAC-SHA256 of
the raw body, and the unsigned `webhook_id=<id>` creation ping. It only ever calls the loopback URL
it is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

API = "/wp-json/wc/v3"
BATCH_LIMIT = 100
MAX_PER_PAGE = 100


@dataclass
class FakeItem:
    """A simple product (parent 0) or a variation (parent = its product id)."""

    id: int
    parent_id: int = 0
    manage_stock: bool | str = False
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"

    def validate(self, no_stock_amount: int = 0) -> None:
        """What WC_Product::validate_props() does on every save (no_stock_amount: the shop's
        woocommerce_notify_no_stock_amount, the count at or below which it is out of stock)."""
        if self.manage_stock is not True:
            if self.manage_stock is False:
                self.stock_quantity, self.backorders = None, "no"
            return
        quantity = self.stock_quantity or 0
        if quantity > no_stock_amount:
            self.stock_status = "instock"
        elif self.backorders != "no":
            self.stock_status = "onbackorder"
        else:
            self.stock_status = "outofstock"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": f"Item {self.id}",
            "type": "variation" if self.parent_id else "simple",
            "status": "publish",
            "parent_id": self.parent_id,
            "manage_stock": self.manage_stock,
            "stock_quantity": self.stock_quantity,
            "stock_status": self.stock_status,
            "backorders": self.backorders,
            "backorders_allowed": self.backorders != "no",
        }


@dataclass
class Stats:
    requests: int = 0
    reads: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    throttled: int = 0
    unauthorized: int = 0
    webhooks_sent: int = 0


class WooCommerceFake:
    def __init__(self, *, consumer_key: str, consumer_secret: str, webhook_secret: str) -> None:
        self.no_stock_amount = 0  # woocommerce_notify_no_stock_amount
        token = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self._authorization = f"Basic {token}"
        self.webhook_secret = webhook_secret
        self.items: dict[int, FakeItem] = {}
        self.stats = Stats()
        self.throttle_next: list[float] = []  # Retry-After seconds for the next requests' 429s
        self.fail_next: list[int] = []  # HTTP statuses (5xx) to answer before serving normally
        self.base_url = ""  # set by start()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # --- lifecycle and seeding -------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get(f"{API}/products", self._list_products)
        app.router.add_get(f"{API}/products/{{parent}}/variations", self._list_variations)
        app.router.add_post(f"{API}/products/batch", self._batch_products)
        app.router.add_post(f"{API}/products/{{parent}}/variations/batch", self._batch_variations)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._client = aiohttp.ClientSession()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, item: FakeItem) -> FakeItem:
        item.validate(self.no_stock_amount)
        self.items[item.id] = item
        return item

    # --- HTTP ------------------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests += 1
        if self.throttle_next:
            self.stats.throttled += 1
            delay = self.throttle_next.pop(0)
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": f"{delay:g}"})
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Bad Gateway")
        if request.headers.get("Authorization") != self._authorization:
            self.stats.unauthorized += 1
            return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        response: web.StreamResponse = await handler(request)
        return response

    async def _list_products(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, [i for i in self.items.values() if i.parent_id == 0])

    async def _list_variations(self, request: web.Request) -> web.StreamResponse:
        parent = int(request.match_info["parent"])
        if parent not in self.items:
            return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return self._page(request, [i for i in self.items.values() if i.parent_id == parent])

    def _page(self, request: web.Request, pool: list[FakeItem]) -> web.StreamResponse:
        self.stats.reads += 1
        try:
            per_page = int(request.query.get("per_page", "10"))
            page = int(request.query.get("page", "1"))
            include = {int(i) for i in request.query.get("include", "").split(",") if i}
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): include, page, per_page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        if include:
            pool = [i for i in pool if i.id in include]
        pool.sort(key=lambda i: i.id)
        total_pages = (len(pool) + per_page - 1) // per_page
        rows = [i.as_json() for i in pool[(page - 1) * per_page : page * per_page]]
        fields = [f for f in request.query.get("_fields", "").split(",") if f]
        if fields:
            rows = [{k: v for k, v in row.items() if k in fields or k == "id"} for row in rows]
        headers = {"X-WP-Total": str(len(pool)), "X-WP-TotalPages": str(total_pages)}
        if page < total_pages:
            headers["Link"] = f'<{request.url.update_query(page=str(page + 1))}>; rel="next"'
        return web.json_response(rows, headers=headers)

    async def _batch_products(self, request: web.Request) -> web.StreamResponse:
        return await self._batch(request, 0)

    async def _batch_variations(self, request: web.Request) -> web.StreamResponse:
        parent = int(request.match_info["parent"])
        if parent not in self.items:
            return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return await self._batch(request, parent)

    async def _batch(self, request: web.Request, parent: int) -> web.StreamResponse:
        body = await request.json()
        total = sum(len(body.get(k) or []) for k in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            message = f"Unable to accept more than {BATCH_LIMIT} items for this request."
            return _error(413, "woocommerce_rest_request_entity_too_large", message)
        self.stats.batch_sizes.append(total)
        return web.json_response(
            {"update": [self._update(entry, parent) for entry in body.get("update") or []]}
        )

    def _update(self, entry: dict[str, Any], parent: int) -> dict[str, Any]:
        item = self.items.get(int(entry.get("id", 0)))
        if item is None or item.parent_id != parent:
            return {
                "id": entry.get("id"),
                "error": {
                    "code": "woocommerce_rest_product_invalid_id",
                    "message": "Invalid ID.",
                    "data": {"status": 400},
                },
            }
        for key in ("manage_stock", "stock_quantity", "stock_status", "backorders"):
            if key in entry:
                setattr(item, key, entry[key])
        item.validate(self.no_stock_amount)
        return item.as_json()

    # --- webhooks --------------------------------------------------------------------------------

    async def send_product_updated(self, url: str, item_id: int, webhook_id: int = 7) -> int:
        """Deliver product.updated for a product or variation as core does; answers the HTTP status."""
        body = json.dumps(self.items[item_id].as_json()).encode()
        signature = base64.b64encode(hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).digest())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/10.3.0 Hookshot (WordPress/6.8)",
            "X-WC-Webhook-Source": f"{self.base_url}/",
            "X-WC-Webhook-Topic": "product.updated",
            "X-WC-Webhook-Resource": "product",
            "X-WC-Webhook-Event": "updated",
            "X-WC-Webhook-Signature": signature.decode(),
            "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        }
        return await self._post(url, body, headers)

    async def send_ping(self, url: str, webhook_id: int = 7) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return await self._post(url, f"webhook_id={webhook_id}".encode(), headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert url.startswith(("http://127.0.0.1:", "http://localhost:")), "the fake only calls loopback"
        assert self._client is not None
        self.stats.webhooks_sent += 1
        async with self._client.post(url, data=body, headers=headers) as response:
            return response.status


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "data": {"status": status}}, status=status)
