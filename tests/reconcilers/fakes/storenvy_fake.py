"""A local Storenvy API v1 (127.0.0.1, port 0) built from the documentation (developers.storenvy.com,
read 2026-12-07: API overview, authentication, endpoints, POST /v1/products) for the parts stocksync
relies on; the variant fields come from the public node-storenvy client (the docs list them nowhere else).

- Paths are `/v1/{endpoint}.json` (the docs' root URL); the `.json` suffix may be left out, as in the
  docs' own `next_url` example.
- Auth (API key): `?api_key=`, header `API-KEY`, or HTTP Basic with the key as user (password ignored);
  OAuth 2: `?access_token=`. Anything else answers 401 with the documented envelope
  `{"meta": {"code", "error_type", "error_message"}}`.
- Requests with a body must be `Content-Type: application/json` ("All API requests must be made using
  the application/json content type"), else 415.
- Every answer is the envelope `{data, meta: {code, api_version}, pagination?}`; lists hold at most 50
  objects and `pagination.next_url` (with `after_id`, the auth query kept) names the next page, or is
  absent on the last one. Ids ascend; `after_id` answers ids above it.
- GET /v1/products, GET /v1/products/{id}, GET /v1/products/{id}/variants,
  GET/PUT /v1/products/{id}/variants/{id}: a variant is `{id, product_id, name, sku, full_quantity,
  in_stock}`; PUT takes `full_quantity` (integer >= 0) and `in_stock` (boolean), others ignored;
  unknown ids answer 404 `NotFound`, a malformed value 422 `ValidationError`.
- Rate limits are not documented: `throttle_next` answers that many requests 429 + Retry-After (plain
  HTTP); `fail_next` answers 5xx statuses first; `refused` external ids answer a PUT with 422.
- `event()` builds a webhook body naming a product; the docs define neither payload nor signature, so
  it carries none (see reconcilers/storenvy.py).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PAGE = 50


@dataclass
class StorenvyStats:
    requests: int = 0
    gets: int = 0
    puts: int = 0
    throttled_429: int = 0
    paths: list[str] = field(default_factory=list)


@dataclass
class Variant:
    full_quantity: int | float | None = 0
    in_stock: bool = False
    name: str = "Default"


class StorenvyFake:
    def __init__(self, api_key: str, access_token: str = "") -> None:
        self.api_key, self.access_token = api_key, access_token
        self.products: dict[int, dict[int, Variant]] = {}  # product id -> variant id -> variant
        self.stats = StorenvyStats()
        self.throttle_next = 0
        self.retry_after = "1"
        self.fail_next: list[int] = []
        self.refused: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/v1/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- state helpers ---------------------------------------------------------------------------

    def variant(self, external_id: str) -> Variant | None:
        product, _, variant = external_id.partition(":")
        return self.products.get(int(product), {}).get(int(variant))

    def seed(
        self, external_id: str, quantity: int | float | None = 0, *, in_stock: bool | None = None
    ) -> Variant:
        product, _, variant = external_id.partition(":")
        sells = (quantity is None or quantity > 0) if in_stock is None else in_stock
        item = Variant(quantity, sells)
        self.products.setdefault(int(product), {})[int(variant)] = item
        return item

    def event(self, product: int, event: str = "product/updated") -> tuple[dict[str, str], bytes]:
        body = {"event": event, "data": {"id": product, "variants": [{"product_id": product}]}}
        return {"Content-Type": "application/json"}, json.dumps(body).encode()

    # --- HTTP ------------------------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        self.stats.paths.append(f"{request.method} {request.path}")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return _error(429, "RateLimited", "Too many requests", {"Retry-After": self.retry_after})
        if self.fail_next:
            return _error(self.fail_next.pop(0), "ServerError", "Something went wrong")
        query = self._auth_query(request)
        if query is None:
            return _error(401, "OAuthException", "Invalid access token or API key")
        parts = request.match_info["tail"].removesuffix(".json").split("/")
        if request.method == "GET":
            self.stats.gets += 1
            return self._get(request, parts, query)
        if request.method == "PUT" and len(parts) == 4 and parts[0] == "products" and parts[2] == "variants":
            self.stats.puts += 1
            if request.content_type != "application/json":
                return _error(415, "UnsupportedMediaType", "requests must be application/json")
            return await self._put_variant(request, parts[1], parts[3])
        return _error(405, "MethodNotAllowed", f"{request.method} {request.path} is not an endpoint")

    def _auth_query(self, request: web.Request) -> dict[str, str] | None:
        """The auth query parameters to keep in next_url; None when the request is not authenticated."""
        key = request.query.get("api_key") or request.headers.get("API-KEY")
        basic = request.headers.get("Authorization", "")
        if not key and basic.startswith("Basic "):
            try:
                key = base64.b64decode(basic[6:]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = None
        if key:
            return ({"api_key": key} if "api_key" in request.query else {}) if key == self.api_key else None
        token = request.query.get("access_token")
        if token and self.access_token and token == self.access_token:
            return {"access_token": token}
        return None

    def _get(self, request: web.Request, parts: list[str], query: dict[str, str]) -> web.Response:
        if parts == ["products"]:
            rows = [self._product(p) for p in sorted(self.products)]
            return self._page(request, rows, query)
        if len(parts) >= 2 and parts[0] == "products":
            variants = self._product_variants(parts[1])
            if variants is None:
                return _error(404, "NotFound", "Product not found")
            if len(parts) == 2:
                return _answer(self._product(int(parts[1])))
            if len(parts) == 3 and parts[2] == "variants":
                return self._page(
                    request, [_shown(int(parts[1]), v, i) for v, i in sorted(variants.items())], query
                )
            if len(parts) == 4 and parts[2] == "variants":
                found = variants.get(int(parts[3])) if parts[3].isdigit() else None
                if found is None:
                    return _error(404, "NotFound", "Variant not found")
                return _answer(_shown(int(parts[1]), int(parts[3]), found))
        return _error(404, "NotFound", f"no endpoint {request.path}")

    def _product_variants(self, text: str) -> dict[int, Variant] | None:
        return self.products.get(int(text)) if text.isdigit() else None

    def _product(self, product: int) -> dict[str, Any]:
        variants = self.products[product]
        return {
            "id": product,
            "name": f"Product {product}",
            "status": "active",
            "preorder": False,
            "variants": [_shown(product, v, item) for v, item in sorted(variants.items())],
        }

    def _page(self, request: web.Request, rows: list[dict[str, Any]], query: dict[str, str]) -> web.Response:
        after = request.query.get("after_id", "0")
        if not after.isdigit():
            return _error(422, "ValidationError", "after_id must be an id")
        rest = [r for r in rows if r["id"] > int(after)]
        page = rest[:PAGE]
        pagination: dict[str, Any] = {"total": len(rows), "offset": len(rows) - len(rest)}
        pagination["total_pages"] = max(1, -(-len(rows) // PAGE))
        pagination["current_max_id"] = max((r["id"] for r in rows), default=0)
        if len(rest) > PAGE:
            url = request.url.with_query({**query, "after_id": str(page[-1]["id"])})
            pagination["next_url"] = str(url)
        return _answer(page, pagination)

    async def _put_variant(self, request: web.Request, product: str, variant: str) -> web.Response:
        variants = self._product_variants(product)
        found = variants.get(int(variant)) if variants is not None and variant.isdigit() else None
        if found is None:
            return _error(404, "NotFound", "Variant not found")
        if f"{product}:{variant}" in self.refused:
            return _error(422, "ValidationError", "Variant could not be saved")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "BadRequest", "body must be a JSON object")
        quantity, in_stock = (
            body.get("full_quantity", found.full_quantity),
            body.get("in_stock", found.in_stock),
        )
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
        ):
            return _error(422, "ValidationError", "full_quantity must be a whole number >= 0")
        if not isinstance(in_stock, bool):
            return _error(422, "ValidationError", "in_stock must be true or false")
        found.full_quantity, found.in_stock = quantity, in_stock
        return _answer(_shown(int(product), int(variant), found))


def _shown(product: int, variant: int, item: Variant) -> dict[str, Any]:
    return {
        "id": variant,
        "product_id": product,
        "name": item.name,
        "sku": f"SKU-{variant}",
        "full_quantity": item.full_quantity,
        "in_stock": item.in_stock,
    }


def _answer(data: Any, pagination: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"data": data, "meta": {"code": 200, "api_version": "1.0"}}
    if pagination is not None:
        body["pagination"] = pagination
    return web.json_response(body)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"meta": {"code": status, "error_type": kind, "error_message": message}}
    return web.json_response(body, status=status, headers=headers)
