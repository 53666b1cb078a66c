"""A local Wix Stores API (127.0.0.1, port 0) written from the Wix REST reference (read 2026-12-07).

- Auth: `Authorization` is the API key or an app token as is (no "Bearer"); an API key also needs
  `wix-site-id` (403 without it, 401 for an unknown key). POST /oauth2/token (client credentials: app
  id, app secret, instance id) creates app tokens {"access_token", "token_type": "Bearer", "expires_in": 14400}. Errors are standard Wix error bodies
  {"message", "details": {"applicationError": {"code", "description"}}}.
- GET /stores/v3/provision/version → {"catalogVersion": V1_CATALOG | V3_CATALOG | STORES_NOT_INSTALLED}.
- POST /stores/v3/inventory-items/query: `query.filter` (field equality, `$eq`, `$in`), `cursorPaging`
  {limit ≤ 1000, cursor}; with a cursor nothing else may be sent (400). Answers `inventoryItems` and
  `pagingMetadata` {count, cursors.next, hasNext}. `page_cap` forces small pages.
- POST /stores/v3/bulk/inventory-items/update: 1-1000 `inventoryItems[].inventoryItem` with required
  `id` and `revision`; `quantity` (-100,000..1,000,000) and `inStock` are a oneof (both: 400). A
  revision other than the current one refuses the call with 428 FAILED_PRECONDITION (nothing written);
  unknown or refused items fail per item in `results[].itemMetadata` {id, originalIndex, success,
  error}; `bulkActionMetadata` counts. Every write increments `revision` by 1.
- Catalog V1 (`catalog_version = "V1_CATALOG"`): POST /stores/v2/inventoryItems/query takes `query.filter`
  as a JSON string and offset `paging` (limit ≤ 100), answers `inventoryItems`, `metadata`,
  `totalResults`; PATCH /stores/v2/inventoryItems/product/{productId} sets `trackQuantity` (left out
  = false, for every variant of the product) and `variants[]` quantity / inStock, answers {}.
- 429 without Retry-After (none documented) for `throttle_next` requests; `fail_next` 5xx statuses.
- Webhooks: every change POSTs to `callback_url` (when set) a body that is an RS256 JWT signed with
  the fake's own key, eventType `wix.stores.catalog.v3.inventory_item_updated_with_reason`; the
  identity names the writing app (our API writes: `app_id`; `manual_edit`: the Wix Stores dashboard).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

WIX_STORES_APP = "215238eb-22a5-4c36-9e7b-e7c08025e04e"
UPDATED = "wix.stores.catalog.v3.inventory_item_updated_with_reason"
MIN_QUANTITY, MAX_QUANTITY = -100_000, 1_000_000


@dataclass
class WixStats:
    requests: int = 0
    queries: int = 0
    updates: int = 0
    throttled_429: int = 0
    update_sizes: list[int] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)


def _error(status: int, code: str, description: str) -> web.Response:
    details = {"applicationError": {"code": code, "description": description}}
    return web.json_response({"message": description, "details": details}, status=status)


def sign_jwt(private_key: rsa.RSAPrivateKey, claims: dict[str, Any], alg: str = "RS256") -> bytes:
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = (
        b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + b"." + b64(json.dumps(claims).encode())
    )
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input + b"." + b64(signature)


class WixFake:
    def __init__(
        self,
        token: str,
        *,
        site_id: str | None = None,
        app_id: str = "our-app",
        instance_id: str = "inst-1",
        app_secret: str | None = None,
    ) -> None:
        self.token, self.site_id, self.app_id, self.instance_id = token, site_id, app_id, instance_id
        self.app_secret = app_secret
        self.minted: list[str] = []  # app instance tokens created by POST /oauth2/token
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.catalog_version = "V3_CATALOG"
        self.items: dict[str, dict[str, Any]] = {}  # inventory item id -> item (revision an int here)
        self.products: dict[str, dict[str, Any]] = {}  # V1: product id -> inventory item of the product
        self.stats = WixStats()
        self.throttle_next = 0
        self.fail_next: list[int] = []
        self.refused_ids: set[str] = set()  # per-item failures in bulk update
        self.page_cap = 1000
        self.callback_url: str | None = None
        self.sent_webhooks: list[bytes] = []
        self.delivery_statuses: list[int] = []  # what callback_url answered, per delivery ...
        self.delivery_answers: list[Any] = []  # ... and its JSON body
        self._deliveries: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/oauth2/token", self._create_token)
        app.router.add_get("/stores/v3/provision/version", self._version)
        app.router.add_post("/stores/v3/inventory-items/query", self._query)
        app.router.add_post("/stores/v3/bulk/inventory-items/update", self._bulk_update)
        app.router.add_post("/stores/v2/inventoryItems/query", self._v1_query)
        app.router.add_patch("/stores/v2/inventoryItems/product/{product_id}", self._v1_update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    def add_item(
        self,
        variant_id: str,
        *,
        quantity: int | None = None,
        in_stock: bool | None = None,
        location_id: str = "loc-1",
        item_id: str | None = None,
        preorder: bool = False,
    ) -> str:
        item_id = item_id or f"item-{variant_id}-{location_id}"
        self.items[item_id] = {
            "id": item_id,
            "revision": 1,
            "variantId": variant_id,
            "productId": f"prod-{variant_id}",
            "locationId": location_id,
            "preorderInfo": {"enabled": preorder},
            "createdDate": _now(),
            "updatedDate": _now(),
        }
        self._set(self.items[item_id], quantity=quantity, in_stock=in_stock)
        return item_id

    def add_v1_product(self, product_id: str, variants: dict[str, int | bool], *, tracked: bool) -> None:
        """A V1 product: variant id -> quantity (tracked) or inStock (not tracked)."""
        rows = [
            {"variantId": v, "quantity": value, "inStock": value > 0}
            if tracked
            else {"variantId": v, "inStock": value}
            for v, value in variants.items()
        ]
        self.products[product_id] = {
            "id": f"inv-{product_id}",
            "productId": product_id,
            "trackQuantity": tracked,
            "variants": rows,
            "preorderInfo": {"enabled": False},
            "numericId": str(1000 + len(self.products)),
        }

    async def _v1_query(self, request: web.Request) -> web.Response:
        body = await self._received(request, "queries")
        if isinstance(body, web.Response):
            return body
        query = body.get("query") or {}
        paging = query.get("paging") or {}
        limit, offset = paging.get("limit", 100), paging.get("offset", 0)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            return _error(400, "INVALID_ARGUMENT", "paging.limit must be 1-100")
        raw = query.get("filter", "{}")
        if not isinstance(raw, str):
            return _error(400, "INVALID_ARGUMENT", "filter must be a JSON string")
        matching = [p for p in self.products.values() if _matches(p, json.loads(raw))]
        page = matching[offset : offset + limit]
        return web.json_response(
            {
                "inventoryItems": page,
                "metadata": {"items": limit, "offset": offset},
                "totalResults": len(matching),
            }
        )

    async def _v1_update(self, request: web.Request) -> web.Response:
        body = await self._received(request, "updates")
        if isinstance(body, web.Response):
            return body
        product = self.products.get(request.match_info["product_id"])
        if product is None:
            return _error(404, "NOT_FOUND", "no inventory item for this product")
        item = body.get("inventoryItem") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            return _error(400, "INVALID_ARGUMENT", "inventoryItem is required")
        product["trackQuantity"] = item.get("trackQuantity") is True  # left out: false, product-wide
        rows = {row["variantId"]: row for row in product["variants"]}
        for change in item.get("variants") or []:
            row = rows.get(change.get("variantId"))
            if row is None:
                return _error(400, "INVALID_ARGUMENT", f"unknown variant {change.get('variantId')}")
            if "quantity" in change:
                row["quantity"] = change["quantity"]
            if "inStock" in change:
                row["inStock"] = change["inStock"]
        for row in product["variants"]:
            if product["trackQuantity"]:
                row["inStock"] = row.get("quantity", 0) > 0
        return web.json_response({})

    def item_of(self, variant_id: str, location_id: str = "loc-1") -> dict[str, Any]:
        return next(
            i for i in self.items.values() if i["variantId"] == variant_id and i["locationId"] == location_id
        )

    def shown(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item as the API shows it: revision as an int64 string, availabilityStatus derived."""
        out = {k: v for k, v in item.items()}
        out["revision"] = str(item["revision"])
        if item["trackQuantity"]:
            selling = item["quantity"] > 0
        else:
            selling = item["inStock"]
        preorder = item["preorderInfo"]["enabled"]
        out["availabilityStatus"] = "IN_STOCK" if selling else ("PREORDER" if preorder else "OUT_OF_STOCK")
        return out

    @staticmethod
    def _set(item: dict[str, Any], *, quantity: int | None, in_stock: bool | None) -> None:
        item.pop("quantity", None)
        item.pop("inStock", None)
        if quantity is not None:
            item["quantity"], item["trackQuantity"] = quantity, True
        else:
            item["inStock"], item["trackQuantity"] = bool(in_stock), False

    def _gate(self, request: web.Request) -> web.Response | None:
        self.stats.requests += 1
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="upstream error")
        presented = request.headers.get("Authorization")
        if presented != self.token and presented not in self.minted:
            return _error(401, "UNAUTHENTICATED", "invalid or expired token")
        api_key = presented == self.token
        if api_key and self.site_id is not None and request.headers.get("wix-site-id") != self.site_id:
            return _error(403, "PERMISSION_DENIED", "API key calls need the wix-site-id header")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return _error(429, "RESOURCE_EXHAUSTED", "Too many requests")
        return None

    async def _received(self, request: web.Request, kind: str) -> web.Response | Any:
        """The gate, then the JSON body of a `kind` ("queries" | "updates") request, counted and kept."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        setattr(self.stats, kind, getattr(self.stats, kind) + 1)
        body = await request.json()
        self.stats.bodies.append(body)
        return body

    async def _create_token(self, request: web.Request) -> web.Response:
        """OAuth client credentials: app id + app secret + instance id → a 4-hour app instance token."""
        self.stats.requests += 1
        body = await request.json()
        wanted = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.app_secret,
            "instance_id": self.instance_id,
        }
        if self.app_secret is None or body != wanted:
            return _error(400, "INVALID_CLIENT", "the app credentials or the instance are not valid")
        self.minted.append(f"app-token-{len(self.minted) + 1}")
        return web.json_response(
            {"access_token": self.minted[-1], "token_type": "Bearer", "expires_in": 14400}
        )

    async def _version(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        return refused or web.json_response({"catalogVersion": self.catalog_version})

    async def _query(self, request: web.Request) -> web.Response:
        body = await self._received(request, "queries")
        if isinstance(body, web.Response):
            return body
        query = body.get("query") or {}
        paging = query.get("cursorPaging") or {}
        limit = paging.get("limit", 100)
        if not isinstance(limit, int) or not 0 <= limit <= 1000:
            return _error(400, "INVALID_ARGUMENT", "cursorPaging.limit must be 0-1000")
        if paging.get("cursor"):
            if set(query) - {"cursorPaging"}:
                return _error(400, "INVALID_ARGUMENT", "only cursorPaging may be sent with a cursor")
            state = json.loads(base64.urlsafe_b64decode(paging["cursor"]))
            query_filter, offset = state["filter"], state["offset"]
        else:
            query_filter, offset = query.get("filter") or {}, 0
        matching = [i for i in self.items.values() if _matches(i, query_filter)]
        size = min(limit, self.page_cap)
        page = matching[offset : offset + size]
        more = offset + size < len(matching)
        cursors: dict[str, str] = {}
        if more:
            token = json.dumps({"filter": query_filter, "offset": offset + size}).encode()
            cursors["next"] = base64.urlsafe_b64encode(token).decode()
        return web.json_response(
            {
                "inventoryItems": [self.shown(i) for i in page],
                "pagingMetadata": {"count": len(page), "cursors": cursors, "hasNext": more},
            }
        )

    async def _bulk_update(self, request: web.Request) -> web.Response:
        body = await self._received(request, "updates")
        if isinstance(body, web.Response):
            return body
        entries = body.get("inventoryItems")
        if not isinstance(entries, list) or not 1 <= len(entries) <= 1000:
            return _error(400, "INVALID_ARGUMENT", "inventoryItems must hold 1-1000 items")
        self.stats.update_sizes.append(len(entries))
        wanted = [e.get("inventoryItem") if isinstance(e, dict) else None for e in entries]
        for index, item in enumerate(wanted):
            problem = _invalid(item)
            if problem:
                return _error(400, "INVALID_ARGUMENT", f"inventoryItems[{index}].inventoryItem: {problem}")
        for item in wanted:
            assert item is not None
            current = self.items.get(item["id"])
            if current is not None and int(item["revision"]) != current["revision"]:
                return _error(428, "REVISION_MISMATCH", f"revision {item['revision']} is not current")
        results, changed = [], []
        for index, item in enumerate(wanted):
            assert item is not None
            current = self.items.get(item["id"])
            meta: dict[str, Any] = {"id": item["id"], "originalIndex": index, "success": False}
            if current is None:
                meta["error"] = {"code": "INVENTORY_ITEM_NOT_FOUND", "description": "no such inventory item"}
            elif item["id"] in self.refused_ids:
                meta["error"] = {
                    "code": "INVALID_INVENTORY_ITEM",
                    "description": "the store refused this item",
                }
            else:
                self._set(current, quantity=item.get("quantity"), in_stock=item.get("inStock"))
                current["revision"] += 1
                current["updatedDate"] = _now()
                meta["success"] = True
                changed.append(current)
            result: dict[str, Any] = {"itemMetadata": meta}
            if meta["success"] and body.get("returnEntity"):
                result["item"] = self.shown(current)  # type: ignore[arg-type]
            results.append(result)
        ok = sum(1 for r in results if r["itemMetadata"]["success"])
        for item in changed:  # delivered after the answer, as Wix does (events may be delayed)
            task = asyncio.get_running_loop().create_task(self._notify(dict(item), self.app_id))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return web.json_response(
            {
                "results": results,
                "bulkActionMetadata": {
                    "totalSuccesses": ok,
                    "totalFailures": len(results) - ok,
                    "undetailedFailures": 0,
                },
            }
        )

    async def manual_edit(
        self, item_id: str, *, quantity: int | None = None, in_stock: bool | None = None
    ) -> None:
        """The merchant changes the item in the Wix dashboard (the Wix Stores app writes it)."""
        item = self.items[item_id]
        self._set(item, quantity=quantity, in_stock=in_stock)
        item["revision"] += 1
        item["updatedDate"] = _now()
        await self._notify(item, WIX_STORES_APP)

    def webhook(
        self, item: dict[str, Any], app_id: str, *, event_id: str | None = None, exp_in: float = 300.0
    ) -> bytes:
        """The signed delivery Wix sends for a change of `item` made by `app_id`."""
        event = {
            "id": event_id or str(uuid.uuid4()),
            "entityFqdn": "wix.stores.catalog.v3.inventory_item",
            "slug": "updated_with_reason",
            "entityId": item["id"],
            "eventTime": _now(),
            "actionEvent": {"body": {"currentEntity": self.shown(item), "reason": "MANUAL"}},
        }
        identity = {"identityType": "APP", "appId": app_id}
        outer = {
            "eventType": UPDATED,
            "instanceId": self.instance_id,
            "data": json.dumps(event),
            "identity": json.dumps(identity),
        }
        now = time.time()
        return sign_jwt(
            self.private_key, {"data": json.dumps(outer), "iat": int(now), "exp": int(now + exp_in)}
        )

    async def _notify(self, item: dict[str, Any], app_id: str) -> None:
        body = self.webhook(item, app_id)
        self.sent_webhooks.append(body)
        if self.callback_url is None:
            return
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.callback_url, data=body, headers={"Content-Type": "text/plain"}) as answer,
        ):
            self.delivery_answers.append(await answer.json(content_type=None))
            self.delivery_statuses.append(answer.status)


def _invalid(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "missing"
    if not isinstance(item.get("id"), str) or not item["id"]:
        return "id is required"
    revision = item.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int | str) or not str(revision).isdigit():
        return "revision is required (int64)"
    if ("quantity" in item) == ("inStock" in item):
        return "exactly one of quantity and inStock (tracking method)"
    quantity = item.get("quantity")
    if "quantity" in item and (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not MIN_QUANTITY <= quantity <= MAX_QUANTITY
    ):
        return f"quantity must be a whole number {MIN_QUANTITY}..{MAX_QUANTITY}"
    if "inStock" in item and not isinstance(item["inStock"], bool):
        return "inStock must be a boolean"
    return None


def _matches(item: dict[str, Any], query_filter: dict[str, Any]) -> bool:
    for name, condition in query_filter.items():
        value = item.get(name)
        if isinstance(condition, dict):
            if "$in" in condition and value not in condition["$in"]:
                return False
            if "$eq" in condition and value != condition["$eq"]:
                return False
        elif value != condition:
            return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
