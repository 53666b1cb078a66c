"""A local BigCommerce REST Management API (v3) on 127.0.0.1, built from BigCommerce's documentation.

Documented behaviour reproduced (github.com/bigcommerce/docs 24f580c: reference/inventory.v3.yml,
products_catalog.v3.yml, docs/store-operations/catalog/inventory-adjustments.mdx,
docs/api-docs/getting-started/api-rate-limits.mdx, docs/start/about, docs/integrations/webhooks/*;
read 2026-12-07):
- base `/stores/{store_hash}/v3`, `X-Auth-Token` on every request (401 problem+json otherwise);
- `GET /catalog/products` with `id:in`, `include_fields` (id + the named fields), `page`, `limit`
  (default 50, at most 250);
- `GET /inventory/locations/{location_id}/items` with `variant_id:in` / `product_id:in` / `sku:in`,
  `page`, `limit` (payload limit 1000 items); an unknown location is a 404;
- `PUT /inventory/adjustments/absolute` {reason, items[{location_id, variant_id | product_id | sku,
  quantity}]}: at most 2000 items; the whole request is refused with 422 (problem+json naming the item
  in `title`) for an item tracked the other way, an unknown item or location, or a quantity beyond
  2,147,483,647; else 200 {transaction_id};
- inventory items: variants of products tracked per variant, products tracked by product (their row
  names the base variant); products with inventory_tracking "none" have no inventory rows;
  available_to_sell = on hand - safety stock; per-location `is_in_stock`;
- every answer carries X-Rate-Limit-Time-Window-Ms / -Time-Reset-Ms / -Requests-Quota /
  -Requests-Left; over the quota (or `throttle_next`) a 429 with those headers and no Retry-After
  (`x_retry_after`: also X-Retry-After seconds, as docs/start/about lists);
- `store/channel/*/inventory/product/stock_changed` webhooks (ids only) for every stock change,
  ours included, signed the Standard Webhooks way with the app's client secret.
With `specs`, every request and answer is checked against BigCommerce's OpenAPI files and any
violation is kept in `violations`. It only ever calls the loopback callback URL it is given.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

INT4_MAX = 2_147_483_647
ADJUSTMENT_CAP = 2000
CATALOG_LIMIT = 250
ROWS_LIMIT = 1000
PROBLEM = "application/problem+json"
# answers whose status the OpenAPI files list (401, 429 and 5xx are documented in prose only)
SPEC_STATUSES = frozenset({200, 404, 422})


@dataclass
class FakeLevel:
    on_hand: int = 0
    safety_stock: int = 0
    is_in_stock: bool = True


@dataclass
class FakeProduct:
    id: int
    inventory_tracking: str = "variant"  # none | product | variant
    availability: str = "available"
    variants: list[int] = field(default_factory=list)  # the first is the base variant

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": f"Product {self.id}",
            "type": "physical",
            "inventory_tracking": self.inventory_tracking,
            "availability": self.availability,
            "is_visible": True,
        }


@dataclass
class Stats:
    requests: int = 0
    reads: int = 0
    adjustments: list[int] = field(default_factory=list)  # items per accepted adjustment
    throttled: int = 0
    webhooks_sent: int = 0


class BigCommerceFake:
    def __init__(
        self,
        token: str,
        client_secret: str,
        store_hash: str = "abc123",
        *,
        specs: Mapping[str, Any] | None = None,
        quota: int = 150,
        window_ms: int = 30_000,
    ) -> None:
        self.token, self.client_secret, self.store_hash = token, client_secret, store_hash
        self.prefix = f"/stores/{store_hash}/v3"
        self.products: dict[int, FakeProduct] = {}
        self.locations: set[int] = {1}
        self.levels: dict[tuple[int, int, int | None], FakeLevel] = {}  # (location, product, variant)
        self.stats = Stats()
        self.specs = dict(specs or {})  # "inventory" / "catalog" -> tests.spec_validation.Spec
        self.violations: list[str] = []
        self.quota, self.window_ms = quota, window_ms
        self._window_start = time.monotonic()
        self._used = 0
        self.throttle_next = 0
        self.throttle_reset_ms = 1500
        self.x_retry_after: int | None = None
        self.fail_next: list[int] = []
        self.refused: set[int] = set()  # variant/product ids the next adjustments refuse (422)
        self.callback_url: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle and seeding -------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(self.prefix + "/catalog/products", self._products)
        app.router.add_get(self.prefix + "/inventory/locations/{location_id}/items", self._items)
        app.router.add_put(self.prefix + "/inventory/adjustments/absolute", self._absolute)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._runner is not None
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}{self.prefix}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            await task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_product(self, product_id: int, tracking: str = "variant", variants: int = 1) -> FakeProduct:
        ids = [product_id * 100 + n for n in range(variants)]
        product = self.products[product_id] = FakeProduct(product_id, tracking, variants=ids)
        return product

    def set_level(
        self, product_id: int, variant_id: int | None, on_hand: int, location: int = 1, **kw: Any
    ) -> None:
        level = self.levels.setdefault((location, product_id, variant_id), FakeLevel())
        level.on_hand = on_hand
        for name, value in kw.items():
            setattr(level, name, value)

    def level(self, product_id: int, variant_id: int | None, location: int = 1) -> FakeLevel | None:
        return self.levels.get((location, product_id, variant_id))

    # --- the merchant's own edits ------------------------------------------------------------------

    def manual_adjust(self, product_id: int, variant_id: int | None, on_hand: int, location: int = 1) -> None:
        """A merchant sets a count in the control panel: the stock changes and the webhook fires."""
        self.set_level(product_id, variant_id, on_hand, location)
        self._notify(product_id, variant_id, location)

    def stock_changed(
        self, product_id: int, variant_id: int | None, location: int = 1
    ) -> tuple[dict[str, str], bytes]:
        """The signed stock_changed delivery for an item (headers, body), as BigCommerce sends it."""
        if variant_id is None:  # stock tracked by product: the delivery names its base variant
            variant_id = self.products[product_id].variants[0]
        data = {"variant_id": variant_id, "product_id": product_id, "location_id": location}
        body = json.dumps(
            {
                "producer": f"stores/{self.store_hash}",
                "hash": hashlib.sha1(json.dumps(data).encode()).hexdigest(),  # noqa: S324 - as documented
                "created_at": int(time.time()),
                "store_id": "1001",
                "scope": "store/channel/*/inventory/product/stock_changed",
                "data": data,
            }
        ).encode()
        return sign(self.client_secret, body), body

    def _notify(self, product_id: int, variant_id: int | None, location: int) -> None:
        if self.callback_url is None:
            return
        headers, body = self.stock_changed(product_id, variant_id, location)
        task = asyncio.get_running_loop().create_task(self._deliver(headers, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, headers: dict[str, str], body: bytes) -> None:
        assert self.callback_url is not None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(
            self.callback_url, data=body, headers={**headers, "Content-Type": "application/json"}
        ) as answer:
            await answer.read()
        self.stats.webhooks_sent += 1

    # --- the API ---------------------------------------------------------------------------------

    async def _products(self, request: web.Request) -> web.StreamResponse:
        async def serve() -> web.StreamResponse:
            limit = _whole(request.query.get("limit", "50"))
            if limit is None or not 1 <= limit <= CATALOG_LIMIT:
                return _problem(422, "The field 'limit' is invalid: at most 250")
            try:
                ids = _id_list(request.query.get("id:in"))
            except ValueError:
                return _problem(422, "The field 'id:in' is invalid")
            fields = [f for f in request.query.get("include_fields", "").split(",") if f]
            found = [p for p in self.products.values() if ids is None or p.id in ids]
            objects = [
                {k: v for k, v in p.as_json().items() if not fields or k == "id" or k in fields}
                for p in found
            ]
            return self._page(request, objects, limit)

        return await self._serve(request, "catalog", serve)

    async def _items(self, request: web.Request) -> web.StreamResponse:
        async def serve() -> web.StreamResponse:
            location = _whole(request.match_info["location_id"])
            if location not in self.locations:
                return _problem(404, "Location not found")
            limit = _whole(request.query.get("limit", "50"))
            if limit is None or not 1 <= limit <= ROWS_LIMIT:
                return _problem(422, "The field 'limit' is invalid: at most 1000")
            try:
                filters = {n: _id_list(request.query.get(f"{n}:in")) for n in ("variant_id", "product_id")}
            except ValueError:
                return _problem(422, "Filter values must be comma separated ids")
            skus = request.query.get("sku:in")
            rows = []
            for row in self._rows(location):
                identity = row["identity"]
                if all(ids is None or identity[name] in ids for name, ids in filters.items()) and (
                    skus is None or identity["sku"] in skus.split(",")
                ):
                    rows.append(row)
            return self._page(request, rows, limit)

        return await self._serve(request, "inventory", serve)

    def _rows(self, location: int) -> list[dict[str, Any]]:
        rows = []
        for (where, product_id, variant_id), level in sorted(self.levels.items(), key=lambda kv: str(kv[0])):
            product = self.products.get(product_id)
            if where != location or product is None or product.inventory_tracking == "none":
                continue
            if (variant_id is None) != (product.inventory_tracking == "product"):
                continue  # a level of the other tracking mode is not an inventory item now
            variant = variant_id or product.variants[0]
            rows.append(
                {
                    "identity": {"sku": f"SKU-{variant}", "variant_id": variant, "product_id": product_id},
                    "available_to_sell": level.on_hand - level.safety_stock,
                    "total_inventory_onhand": level.on_hand,
                    "settings": {
                        "safety_stock": level.safety_stock,
                        "is_in_stock": level.is_in_stock,
                        "warning_level": 0,
                        "bin_picking_number": "",
                    },
                }
            )
        return rows

    async def _absolute(self, request: web.Request) -> web.StreamResponse:
        async def serve() -> web.StreamResponse:
            try:
                body = await request.json()
            except ValueError:
                return _problem(400, "The request body is not valid JSON")
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                return _problem(422, "items: required, a non-empty list")
            if len(items) > ADJUSTMENT_CAP:
                return _problem(422, f"items: at most {ADJUSTMENT_CAP} items per request")
            planned = []
            for index, item in enumerate(items):
                target = self._target(item) if isinstance(item, dict) else f"items.{index}: not an object"
                if isinstance(target, str):
                    return _problem(422, target)
                planned.append((target, item["quantity"]))
            for (location, product_id, variant_id), quantity in planned:
                self.set_level(product_id, variant_id, quantity, location)
            self.stats.adjustments.append(len(planned))
            for (location, product_id, variant_id), _ in planned:
                self._notify(product_id, variant_id, location)
            return web.json_response({"transaction_id": uuid.uuid4().hex})

        return await self._serve(request, "inventory", serve)

    def _target(self, item: dict[str, Any]) -> tuple[int, int, int | None] | str:
        """Where an adjustment item lands, or why the whole adjustment is refused."""
        names = [n for n in ("variant_id", "product_id", "sku") if n in item]
        location, quantity = item.get("location_id"), item.get("quantity")
        if len(names) != 1 or type(location) is not int or type(quantity) is not int:
            return "Each item needs location_id, quantity and one of variant_id, product_id, sku"
        if location not in self.locations:
            return f"Location {location} does not exist"
        if not 0 <= quantity <= INT4_MAX:
            return f"quantity must be between 0 and {INT4_MAX}"
        name, value = names[0], item[names[0]]
        product = self._owner(name, value)
        if product is None:
            return f"[Item with {name} {value} does not exist]"
        if value in self.refused:
            return f"[Item with {name} {value} cannot be adjusted]"
        if product.inventory_tracking == "product" and name != "product_id":
            return f"[Item with {name} {value} is tracked by product, please update stock by product id]"
        if product.inventory_tracking == "variant" and name == "product_id":
            return f"[Item with product_id {value} is tracked by variant, please update stock by variant id]"
        if product.inventory_tracking == "none":
            return f"[Item with {name} {value} has inventory tracking disabled]"
        variant = None if name == "product_id" else (value if name == "variant_id" else int(str(value)[4:]))
        return location, product.id, variant

    def _owner(self, name: str, value: Any) -> FakeProduct | None:
        if name == "product_id":
            return self.products.get(value) if type(value) is int else None
        if name == "sku":
            value = int(value[4:]) if isinstance(value, str) and value[4:].isdigit() else None
        return next((p for p in self.products.values() if value in p.variants), None)

    # --- every request ---------------------------------------------------------------------------

    async def _serve(self, request: web.Request, api: str, serve: Any) -> web.StreamResponse:
        self.stats.requests += 1
        path = request.path.removeprefix(self.prefix)
        self._check_request(api, request, path, await request.read())
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Bad Gateway")
        if request.headers.get("X-Auth-Token") != self.token:
            return _problem(401, "Unauthorized: missing or invalid X-Auth-Token")
        left, reset_ms = self._spend()
        limits = {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(max(left, 0)),
        }
        if self.throttle_next > 0 or left < 0:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                limits["X-Rate-Limit-Time-Reset-Ms"] = str(self.throttle_reset_ms)
            if self.x_retry_after is not None:
                limits["X-Retry-After"] = str(self.x_retry_after)
            self.stats.throttled += 1
            answer: web.StreamResponse = _problem(429, "Too many requests")
        else:
            if request.method == "GET":
                self.stats.reads += 1
            answer = await serve()
        answer.headers.update(limits)
        self._check_response(api, request, path, answer)
        return answer

    def _spend(self) -> tuple[int, int]:
        now = time.monotonic()
        elapsed_ms = (now - self._window_start) * 1000
        if elapsed_ms >= self.window_ms:
            self._window_start, self._used, elapsed_ms = now, 0, 0.0
        self._used += 1
        return self.quota - self._used, math.ceil(self.window_ms - elapsed_ms)  # never announce early

    def _page(self, request: web.Request, objects: list[dict[str, Any]], limit: int) -> web.Response:
        page = _whole(request.query.get("page", "1")) or 1
        pages = max(1, -(-len(objects) // limit))
        shown = objects[(page - 1) * limit : page * limit]
        links = {"current": f"?page={page}&limit={limit}"}
        if page < pages:
            links["next"] = f"?page={page + 1}&limit={limit}"
        if page > 1:
            links["previous"] = f"?page={page - 1}&limit={limit}"
        meta = {"total": len(objects), "count": len(shown), "per_page": limit, "current_page": page}
        return web.json_response(
            {"data": shown, "meta": {"pagination": {**meta, "total_pages": pages, "links": links}}}
        )

    def _check_request(self, api: str, request: web.Request, path: str, raw: bytes) -> None:
        spec = self.specs.get(api)
        if spec is None:
            return
        try:
            spec.check_request(
                request.method,
                path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=raw or None,
                content_type=request.headers.get("Content-Type", "application/json").split(";")[0],
            )
        except AssertionError as exc:
            self.violations.append(str(exc))

    def _check_response(self, api: str, request: web.Request, path: str, answer: web.StreamResponse) -> None:
        spec = self.specs.get(api)
        if spec is None or answer.status not in SPEC_STATUSES or not isinstance(answer, web.Response):
            return
        try:
            spec.check_response(
                request.method,
                path,
                answer.status,
                answer.body,
                query=dict(request.query),
                # problem answers are checked as JSON (see documented_specs)
                content_type="application/json" if answer.content_type == PROBLEM else answer.content_type,
            )
        except AssertionError as exc:
            self.violations.append(str(exc))


def sign(
    secret: str, body: bytes, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Standard Webhooks headers: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">, key = secret."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def _problem(status: int, title: str) -> web.Response:
    body = {
        "status": status,
        "title": title,
        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
        "errors": {},
    }
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=PROBLEM)


def _whole(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) < 12 else None


def _id_list(text: str | None) -> set[int] | None:
    """A comma-separated id filter: the ids, None when absent; ValueError when malformed."""
    if text is None:
        return None
    ids = [_whole(part.strip()) for part in text.split(",")]
    if None in ids:
        raise ValueError(text[:40])
    return {i for i in ids if i is not None}


def documented_specs() -> dict[str, Any]:
    """BigCommerce's OpenAPI files as the fake checks them (skips the test without ../shared), with
    narrow conversions, each for a stated reason:
    - the `variant_id:in` / `product_id:in` / `location_id:in` filters are declared `integer` although
      their description (and every example in the docs) is a comma-separated list of ids: string;
    - `application/problem+json` answers are read as JSON (openapi-core deserializes only the exact
      `application/json` media type; the schema is BigCommerce's own)."""
    from tests.spec_validation import Spec, spec_document

    specs = {}
    for name, relative in (
        ("inventory", "bigcommerce/inventory.v3.yml"),
        ("catalog", "bigcommerce/products_catalog.v3.yml"),
    ):
        document = spec_document(relative)
        for parameter in document.get("components", {}).get("parameters", {}).values():
            if parameter.get("in") == "query" and parameter.get("name", "").endswith("_id:in"):
                if parameter.get("schema", {}).get("type") == "integer":
                    parameter["schema"] = {"type": "string"}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                for answer in (
                    operation.get("responses", {}) if isinstance(operation, dict) else {}
                ).values():
                    content = answer.get("content", {}) if isinstance(answer, dict) else {}
                    if PROBLEM in content and "application/json" not in content:
                        content["application/json"] = content.pop(PROBLEM)
        specs[name] = Spec.from_document(relative, document)
    return specs
