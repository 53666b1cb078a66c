"""A local Etsy Open API v3 (127.0.0.1, port 0) built from Etsy's documentation of what we rely on.

- Every call needs `x-api-key: <keystring>:<shared secret>` (403 otherwise) and `Authorization: Bearer
  <token>` (401 otherwise); errors are `{"error": "<message>"}`.
- GET /v3/application/listings/batch/inventory?listing_ids=1,2 (getListingsInventoryByListingIds): at
  most 100 ids (400 beyond); `{count, results: [listing + inventory]}`; unknown ids are left out.
  GET /v3/application/listings/{id}/inventory (getListingInventory): the inventory record alone.
- PUT /v3/application/listings/{id}/inventory (updateListingInventory) REPLACES the inventory with the
  body: products not sent are gone; every product and offering gets NEW ids; an offering needs
  price, quantity (0..999), is_enabled and readiness_state_id; all offerings at 0 → 400; read-only
  fields (product_id, offering_id, is_deleted, a Money price) → 400; prices, quantities or SKUs that
  differ between products without the matching `*_on_property` → 400. The answer is the new inventory.
- PATCH /v3/application/shops/{shop_id}/listings/{id} (updateListing, form or JSON) `state` active |
  inactive; activating needs a quantity > 0; activating a sold-out listing is a renewal (counted).
- POST /v3/public/oauth/token grant_type=refresh_token: a new access token and a rotated refresh token.
- Success answers carry x-limit-per-second, x-remaining-this-second, x-limit-per-day and
  x-remaining-today; `throttle_next` answers 429 with retry-after; `fail_next` answers 5xx.
- `notify()` POSTs a Standard Webhooks signed event (webhook-id/-timestamp/-signature v1,base64).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

API = "/v3/application"
MAX_QUANTITY = 999
_READ_ONLY = ("product_id", "offering_id", "is_deleted")


@dataclass
class EtsyStats:
    requests: int = 0
    reads: int = 0
    puts: int = 0
    state_changes: list[tuple[int, str]] = field(default_factory=list)
    renewals: int = 0
    refreshes: int = 0
    throttled_429: int = 0
    read_sizes: list[int] = field(default_factory=list)


@dataclass
class FakeListing:
    state: str
    inventory: dict[str, Any]


class EtsyFake:
    def __init__(
        self, keystring: str, shared_secret: str, token: str, shop_id: int, signing_secret: str
    ) -> None:
        self.api_key = f"{keystring}:{shared_secret}"
        self.token, self.refresh_token = token, "refresh-0"
        self.shop_id = shop_id
        self.signing_secret = signing_secret  # whsec_<base64 key>
        self.listings: dict[int, FakeListing] = {}
        self.stats = EtsyStats()
        self.throttle_next = 0
        self.retry_after = "1"
        self.fail_next: list[int] = []
        self.refused_listings: set[int] = set()  # a PUT to one of these answers 400
        self.limit_per_day, self.remaining_today = 10_000, 9_000
        self._ids = itertools.count(1_000_000)
        self._runner: web.AppRunner | None = None

    # --- seeding and reading (tests) ---------------------------------------------------------------

    def seed(
        self, listing_id: int, products: list[tuple[str, int]], state: str = "active", **extra: Any
    ) -> None:
        """A listing whose products are (sku, quantity), one offering each, price 12.50 EUR."""
        inventory = {
            "products": [
                self._product(sku, quantity, index, len(products))
                for index, (sku, quantity) in enumerate(products)
            ],
            "price_on_property": [],
            "quantity_on_property": [513] if len(products) > 1 else [],
            "sku_on_property": [513] if len(products) > 1 else [],
            "readiness_state_on_property": [],
        }
        inventory.update(extra)
        self.listings[listing_id] = FakeListing(state, inventory)

    def _product(self, sku: str, quantity: int, index: int, count: int) -> dict[str, Any]:
        values = (
            [
                {
                    "property_id": 513,
                    "property_name": "Size",
                    "scale_id": None,
                    "scale_name": None,
                    "value_ids": [100 + index],
                    "values": [f"S{index}"],
                }
            ]
            if count > 1
            else []
        )
        return {
            "product_id": next(self._ids),
            "sku": sku,
            "is_deleted": False,
            "property_values": values,
            "offerings": [
                {
                    "offering_id": next(self._ids),
                    "quantity": quantity,
                    "is_enabled": True,
                    "is_deleted": False,
                    "price": {"amount": 1250, "divisor": 100, "currency_code": "EUR"},
                    "readiness_state_id": 77,
                }
            ],
        }

    def product(self, listing_id: int, sku: str) -> dict[str, Any] | None:
        listing = self.listings.get(listing_id)
        products = listing.inventory["products"] if listing else []
        return next((p for p in products if p["sku"] == sku), None)

    def quantity(self, listing_id: int, sku: str) -> int | None:
        product = self.product(listing_id, sku)
        return None if product is None else int(product["offerings"][0]["quantity"])

    def set_quantity(self, listing_id: int, sku: str, quantity: int) -> None:
        product = self.product(listing_id, sku)
        assert product is not None
        product["offerings"][0]["quantity"] = quantity

    # --- server ------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(f"{API}/listings/batch/inventory", self._read)
        app.router.add_get(f"{API}/listings/{{listing_id}}/inventory", self._read_one)
        app.router.add_put(f"{API}/listings/{{listing_id}}/inventory", self._put)
        app.router.add_patch(f"{API}/shops/{{shop_id}}/listings/{{listing_id}}", self._patch)
        app.router.add_post("/v3/public/oauth/token", self._token)
        self._runner = web.AppRunner(app, access_log=None, middlewares=())
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}{API}"

    @property
    def token_url(self) -> str:
        assert self._runner is not None
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/v3/public/oauth/token"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _gate(self, request: web.Request) -> web.Response | None:
        self.stats.requests += 1
        if self.fail_next:
            return web.json_response({"error": "Server Error"}, status=self.fail_next.pop(0))
        if request.headers.get("x-api-key") != self.api_key:
            return web.json_response({"error": "Invalid API key or shared secret"}, status=403)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "invalid_token"}, status=401)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return web.json_response(
                {"error": "You have exceeded your quota of requests per second"},
                status=429,
                headers={"retry-after": self.retry_after},
            )
        self.remaining_today = max(self.remaining_today - 1, 0)
        return None

    def _ok(self, body: Any) -> web.Response:
        return web.json_response(
            body,
            headers={
                "x-limit-per-second": "10",
                "x-remaining-this-second": "9",
                "x-limit-per-day": str(self.limit_per_day),
                "x-remaining-today": str(self.remaining_today),
            },
        )

    async def _read(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        raw = request.query.get("listing_ids", "")
        ids = [part for part in raw.split(",") if part]
        if not ids or not all(part.isdigit() for part in ids):
            return web.json_response({"error": "listing_ids must be a list of integers"}, status=400)
        if len(ids) > 100:
            return web.json_response({"error": "listing_ids may hold at most 100 ids"}, status=400)
        self.stats.reads += 1
        self.stats.read_sizes.append(len(ids))
        results = [
            {
                "listing_id": int(i),
                "shop_id": self.shop_id,
                "state": self.listings[int(i)].state,
                "inventory": self.listings[int(i)].inventory,
            }
            for i in ids
            if int(i) in self.listings
        ]
        return self._ok({"count": len(results), "results": results})

    async def _read_one(self, request: web.Request) -> web.Response:
        """getListingInventory: the inventory record alone (no listing state)."""
        if (refused := self._gate(request)) is not None:
            return refused
        listing = self.listings.get(int(request.match_info["listing_id"]))
        if listing is None:
            return web.json_response({"error": "Listing not found"}, status=404)
        self.stats.reads += 1
        return self._ok(listing.inventory)

    async def _put(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        listing = self.listings.get(int(request.match_info["listing_id"]))
        if listing is None:
            return web.json_response({"error": "Listing not found"}, status=404)
        if int(request.match_info["listing_id"]) in self.refused_listings:
            return web.json_response({"error": "Property values can't be empty"}, status=400)
        try:
            inventory = self._validated(await request.json())
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.stats.puts += 1
        listing.inventory = inventory
        return self._ok(inventory)

    def _validated(self, body: Any) -> dict[str, Any]:
        products = body.get("products") if isinstance(body, dict) else None
        if not isinstance(products, list) or not products:
            raise ValueError("Missing input parameter: [products]")
        new = []
        for product in products:
            if not isinstance(product, dict) or any(k in product for k in _READ_ONLY):
                raise ValueError("products: read-only or malformed product")
            offerings = product.get("offerings")
            if not isinstance(offerings, list) or len(offerings) != 1 or not isinstance(offerings[0], dict):
                raise ValueError("a product needs one offering")
            offering = offerings[0]
            quantity, price = offering["quantity"], offering["price"]
            if any(k in offering for k in _READ_ONLY) or isinstance(price, dict | bool):
                raise ValueError("offerings: read-only field or a Money object as price")
            if (
                not isinstance(quantity, int)
                or isinstance(quantity, bool)
                or not 0 <= quantity <= MAX_QUANTITY
            ):
                raise ValueError(f"quantity must be between 0 and {MAX_QUANTITY}")
            if not isinstance(offering["is_enabled"], bool) or "readiness_state_id" not in offering:
                raise ValueError("offerings need is_enabled and readiness_state_id")
            if not isinstance(product.get("property_values", []), list):
                raise TypeError("Property values can't be empty")
            new.append(
                {
                    "product_id": next(self._ids),
                    "sku": product.get("sku") or "",
                    "is_deleted": False,
                    "property_values": product.get("property_values", []),
                    "offerings": [
                        {
                            "offering_id": next(self._ids),
                            "quantity": quantity,
                            "is_enabled": offering["is_enabled"],
                            "is_deleted": False,
                            "price": {
                                "amount": round(float(price) * 100),
                                "divisor": 100,
                                "currency_code": "EUR",
                            },
                            "readiness_state_id": offering["readiness_state_id"],
                        }
                    ],
                }
            )
        varying = {
            "price_on_property": {p["offerings"][0]["price"]["amount"] for p in new},
            "quantity_on_property": {p["offerings"][0]["quantity"] for p in new},
            "sku_on_property": {p["sku"] for p in new},
        }
        for name, values in varying.items():  # a value may differ between products only on a property
            if len(values) > 1 and not body.get(name):
                raise ValueError(f"products differ in a value {name} does not vary on")
        if not any(p["offerings"][0]["quantity"] > 0 for p in new):
            raise ValueError("At least one offering must have a quantity greater than 0")
        return {
            "products": new,
            **{k: body.get(k, []) for k in ("price_on_property", "quantity_on_property", "sku_on_property")},
            "readiness_state_on_property": body.get("readiness_state_on_property", []),
        }

    async def _patch(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        listing_id = int(request.match_info["listing_id"])
        listing = self.listings.get(listing_id)
        if listing is None or request.match_info["shop_id"] != str(self.shop_id):
            return web.json_response({"error": "Listing not found"}, status=404)
        if request.content_type == "application/json":
            fields = await request.json()
        else:
            fields = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        state = fields.get("state")
        if state not in ("active", "inactive"):
            return web.json_response({"error": "state must be active or inactive"}, status=400)
        if state == "active":
            if not any(p["offerings"][0]["quantity"] > 0 for p in listing.inventory["products"]):
                return web.json_response({"error": "Cannot activate a listing without quantity"}, status=400)
            if listing.state == "sold_out":
                self.stats.renewals += 1
        listing.state = state
        self.stats.state_changes.append((listing_id, state))
        return self._ok({"listing_id": listing_id, "state": state, "shop_id": self.shop_id})

    async def _token(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.stats.refreshes += 1
        self.token = f"token-{uuid.uuid4().hex[:8]}"
        self.refresh_token = f"refresh-{self.stats.refreshes}"
        return web.json_response(
            {
                "access_token": self.token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": self.refresh_token,
            }
        )

    # --- webhooks ----------------------------------------------------------------------------------

    def signed(
        self, event_type: str, listing_id: int, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {
                "event_type": event_type,
                "resource_url": f"https://api.etsy.com{API}/listings/{listing_id}/inventory",
                "shop_id": str(self.shop_id),
            }
        ).encode()
        delivery, stamp = f"msg_{uuid.uuid4().hex[:12]}", str(int(time.time()))
        key = base64.b64decode((secret or self.signing_secret).removeprefix("whsec_"))
        digest = hmac.new(key, f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "webhook-id": delivery,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
            "Content-Type": "application/json",
        }
        return headers, body

    async def notify(
        self, session: aiohttp.ClientSession, url: str, event_type: str, listing_id: int
    ) -> None:
        headers, body = self.signed(event_type, listing_id)
        async with session.post(url, data=body, headers=headers) as answer:
            answer.raise_for_status()
