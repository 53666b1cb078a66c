"""A local Big Cartel API v1 (127.0.0.1, port 0) built from the public docs (developers.bigcartel.com
/api/v1 introduction; help.bigcartel.com developer pages for products, webhooks, OAuth):

- JSON:API: every request needs `Accept: application/vnd.api+json` (406 otherwise) and a User-Agent
  (400 otherwise); a PATCH needs `Content-Type: application/vnd.api+json` (400 otherwise). Errors are
  JSON:API `{"errors": [{"status", "title", "detail"}]}`.
- auth: `Authorization: Bearer <token>` or HTTP Basic `<subdomain>:<password>`; anything else 401.
- GET /v1/accounts/{account}/products: `page[limit]` (default 20) / `page[offset]`; the products in
  `data` with `relationships.options.data` linkage, the options (`product_options`: name, price,
  quantity, sold) in `included`, `meta.count` = all products. GET .../products/{id}: one or 404.
- PATCH .../products/{id}: a `products` document whose `data.id` is the product; `attributes.status`
  among the four statuses; `relationships.options.data` REPLACES the product's options (JSON:API to-many
  semantics: an existing option left out is deleted, as a test must notice), each entry may carry
  `attributes.quantity` (a whole number >= 0, else 400). An option refused by the store answers 402
  (valid parameters, request failed). 200 answers the updated product like a GET.
- throttling is not documented: `throttle_next` answers that many 429s with Retry-After: 1 (plain
  HTTP); `fail_next` that many 5xx.
- webhooks: POST {account_id, type, payload} signed X-Webhook-Signature (hex HMAC-SHA256 of the body,
  app client_secret); our own writes queue one too, as the docs warn.
A test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MEDIA = "application/vnd.api+json"
DEFAULT_LIMIT = 20
STATUSES = ("active", "hidden", "sold_out", "coming_soon")


@dataclass
class FakeOption:
    id: int
    product_id: int
    quantity: int | None  # None: no count kept
    sold: int = 0

    def resource(self) -> dict[str, Any]:
        attributes = {
            "name": f"Option {self.id}",
            "price": 10.0,
            "quantity": self.quantity,
            "sold": self.sold,
        }
        return {"type": "product_options", "id": str(self.id), "attributes": attributes}


@dataclass
class FakeProduct:
    id: int
    status: str = "active"
    options: dict[int, FakeOption] = field(default_factory=dict)


@dataclass
class BigCartelStats:
    requests: int = 0
    gets: int = 0
    patches: int = 0
    throttled_429: int = 0
    patch_bodies: list[Any] = field(default_factory=list)


class BigCartelFake:
    def __init__(
        self, token: str, client_secret: str, account_id: str = "4242", login: str = "", password: str = ""
    ) -> None:
        self.token, self.client_secret, self.account_id = token, client_secret, account_id
        self.login, self.password = login, password
        self.products: dict[int, FakeProduct] = {}
        self.stats = BigCartelStats()
        self.throttle_next = 0
        self.fail_next: list[int] = []
        self.refused_options: set[int] = set()
        self.webhooks: list[bytes] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        base = f"/v1/accounts/{self.account_id}/products"
        app.router.add_get(base, self._list)
        app.router.add_get(base + "/{pid}", self._one)
        app.router.add_patch(base + "/{pid}", self._patch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, option: FakeOption, status: str = "active") -> None:
        product = self.products.setdefault(option.product_id, FakeProduct(option.product_id, status))
        product.options[option.id] = option

    def option(self, option_id: int) -> FakeOption:
        return next(p.options[option_id] for p in self.products.values() if option_id in p.options)

    def webhook(self, product_id: int, kind: str = "product.updated") -> tuple[dict[str, str], bytes]:
        payload = (
            self._document(product_id)["data"] if product_id in self.products else {"id": str(product_id)}
        )
        body = json.dumps({"account_id": self.account_id, "type": kind, "payload": payload}).encode()
        return self.signed(body), body

    def signed(self, body: bytes) -> dict[str, str]:
        signature = hmac.new(self.client_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Webhook-Signature": signature, "Content-Type": "application/json"}

    def _authorized(self, header: str) -> bool:
        if header == f"Bearer {self.token}":
            return True
        if self.login and header.startswith("Basic "):
            try:
                pair = base64.b64decode(header[6:]).decode()
            except ValueError:
                return False
            return pair == f"{self.login}:{self.password}"
        return False

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests += 1
        if self.fail_next:
            return _error(self.fail_next.pop(0), "Server Error", "Something is wrong on our end")
        if not self._authorized(request.headers.get("Authorization", "")):
            return _error(401, "Unauthorized", "Invalid API credentials")
        if MEDIA not in request.headers.get("Accept", ""):
            return _error(406, "Not Acceptable", f"Accept must be {MEDIA}")
        if not request.headers.get("User-Agent", "").strip():
            return _error(400, "Bad Request", "A User-Agent identifying your app is required")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return _error(429, "Too Many Requests", "Slow down", {"Retry-After": "1"})
        response: web.StreamResponse = await handler(request)
        return response

    async def _list(self, request: web.Request) -> web.Response:
        self.stats.gets += 1
        try:
            limit = int(request.query.get("page[limit]", str(DEFAULT_LIMIT)))
            offset = int(request.query.get("page[offset]", "0"))
        except ValueError:
            return _error(400, "Bad Request", "page[limit] and page[offset] must be integers")
        if limit < 1 or offset < 0:
            return _error(400, "Bad Request", "page[limit] must be positive, page[offset] not negative")
        ids = sorted(self.products)[offset : offset + limit]
        docs = [self._document(i) for i in ids]
        body = {
            "data": [d["data"] for d in docs],
            "included": [o for d in docs for o in d["included"]],
            "meta": {"count": len(self.products)},
        }
        return web.json_response(body, content_type=MEDIA)

    async def _one(self, request: web.Request) -> web.Response:
        self.stats.gets += 1
        product_id = _int(request.match_info["pid"])
        if product_id not in self.products:
            return _error(404, "Not Found", "Requested item doesn't exist")
        return web.json_response(self._document(product_id), content_type=MEDIA)

    def _document(self, product_id: int) -> dict[str, Any]:
        product = self.products[product_id]
        linkage = [{"type": "product_options", "id": str(i)} for i in product.options]
        data = {
            "type": "products",
            "id": str(product_id),
            "attributes": {"name": f"Product {product_id}", "status": product.status, "default_price": 10.0},
            "relationships": {"options": {"data": linkage}},
        }
        return {"data": data, "included": [o.resource() for o in product.options.values()]}

    async def _patch(self, request: web.Request) -> web.Response:
        product_id = _int(request.match_info["pid"])
        if not request.headers.get("Content-Type", "").startswith(MEDIA):
            return _error(400, "Bad Request", f"Content-Type must be {MEDIA}")
        if product_id not in self.products:
            return _error(404, "Not Found", "Requested item doesn't exist")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "Bad Request", "Body is not JSON")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "products" or data.get("id") != str(product_id):
            return _error(400, "Bad Request", "data must be the products resource named in the path")
        product = self.products[product_id]
        status = (data.get("attributes") or {}).get("status", product.status)
        if status not in STATUSES:
            return _error(400, "Bad Request", f"status must be one of {', '.join(STATUSES)}")
        listed = (data.get("relationships") or {}).get("options", {}).get("data")
        updates: dict[int, Any] = {}
        if listed is not None:
            if not isinstance(listed, list):
                return _error(400, "Bad Request", "relationships.options.data must be a list")
            for entry in listed:
                option_id = _int(str(entry.get("id"))) if isinstance(entry, dict) else -1
                if entry.get("type") != "product_options" or option_id not in product.options:
                    return _error(400, "Bad Request", "options must be existing product_options")
                quantity = (entry.get("attributes") or {}).get("quantity", "keep")
                if quantity != "keep" and (
                    isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
                ):
                    return _error(400, "Bad Request", "quantity must be a whole number >= 0")
                if option_id in self.refused_options:
                    return _error(402, "Request Failed", f"option {option_id} cannot be updated")
                updates[option_id] = quantity
        self.stats.patches += 1
        self.stats.patch_bodies.append(body)
        product.status = status
        if listed is not None:  # the relationship is replaced: options left out are gone
            product.options = {i: o for i, o in product.options.items() if i in updates}
            for option_id, quantity in updates.items():
                if quantity != "keep":
                    product.options[option_id].quantity = quantity
        self.webhooks.append(self.webhook(product_id)[1])
        return web.json_response(self._document(product_id), content_type=MEDIA)


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _error(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"errors": [{"status": str(status), "title": title, "detail": detail}]}
    return web.json_response(body, status=status, headers=headers, content_type=MEDIA)
