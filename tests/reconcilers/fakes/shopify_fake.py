"""A local Shopify Admin GraphQL server (127.0.0.1) faithful to the behaviour the reconciler relies on.

Documented behaviour reproduced (shopify.dev, read 2026-11-22): X-Shopify-Access-Token auth (401),
versioned endpoint, calculated query cost with a leaky bucket reported in extensions.cost.throttleStatus
and a 200 THROTTLED answer when the bucket cannot pay the requested cost, the 1000-point single-query
limit, 250-item input arrays, nodes(ids:) answering null for unknown ids, inventorySetQuantities
(absolute, all-or-nothing, mandatory changeFromQuantity and @idempotent from 2026-04, stale ->
CHANGE_FROM_QUANTITY_STALE, idempotent replay), and inventory_levels/update webhooks signed with
base64 HMAC-SHA256 of the raw body. It never contacts anything but the given loopback webhook URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from graphql import FieldNode, OperationDefinitionNode, parse

MAX_INPUT = 250
MAX_QUERY_COST = 1000


@dataclass
class FakeVariant:
    item: int
    tracked: bool = True
    levels: dict[int, int] = field(default_factory=dict)  # location number -> available
    policy: str = "DENY"


@dataclass
class Stats:
    requests: int = 0
    observe_calls: int = 0
    mutation_calls: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    throttled: int = 0
    webhooks_sent: int = 0


class ShopifyFake:
    def __init__(
        self,
        *,
        token: str,
        client_secret: str,
        version: str,
        bucket: float = 1000.0,
        restore_rate: float = 100.0,
        shop: str = "acme.myshopify.com",
    ) -> None:
        self.token, self.client_secret, self.version, self.shop = token, client_secret, version, shop
        self.bucket, self.restore_rate = bucket, restore_rate
        self._available, self._stamp = bucket, time.monotonic()
        self.variants: dict[int, FakeVariant] = {}
        self.stats = Stats()
        self.webhook_url: str | None = None
        self.fail_next: list[int] = []  # HTTP statuses to answer before serving normally
        self._replays: dict[str, tuple[str, dict[str, Any]]] = {}
        self.base_url = ""  # set by start()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # --- lifecycle and seeding -------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/admin/api/{version}/graphql.json", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._client = aiohttp.ClientSession()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_variant(
        self, number: int, available: int | None, *, location: int = 77, tracked: bool = True
    ) -> None:
        levels = {location: available} if available is not None else {}
        self.variants[number] = FakeVariant(item=100_000 + number, tracked=tracked, levels=levels)

    def drain(self, to: float = 0.0) -> None:
        self._refill()
        self._available = to

    async def manual_edit(self, number: int, available: int, location: int = 77) -> None:
        """A merchant edits a level in the admin: the store changes and notifies."""
        variant = self.variants[number]
        variant.levels[location] = available
        await self._notify(variant.item, location, available)

    # --- GraphQL ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="upstream error")
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return web.json_response({"errors": "[API] Invalid API key or access token"}, status=401)
        if request.match_info["version"] != self.version:
            return web.json_response({"errors": "Not Found"}, status=404)
        body = await request.json()
        operation = next(
            d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode)
        )
        root = operation.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        variables = body.get("variables") or {}
        if root.name.value == "nodes":
            return await self._nodes(variables)
        if root.name.value == "inventorySetQuantities":
            directives = {d.name.value for d in root.directives or ()}
            return await self._set_quantities(variables, idempotent="idempotent" in directives)
        return self._answer(None, 1, errors=[{"message": f"unsupported field {root.name.value}"}])

    async def _nodes(self, variables: dict[str, Any]) -> web.Response:
        ids: list[str] = variables["ids"]
        if len(ids) > MAX_INPUT:
            return self._too_many(len(ids))
        cost = 1 + 4 * len(ids)
        refused = self._charge(cost)
        if refused is not None:
            return refused
        self.stats.observe_calls += 1
        location = int(variables["locationId"].rsplit("/", 1)[1])
        return self._answer({"nodes": [self._node(gid, location) for gid in ids]}, cost)

    def _node(self, gid: str, location: int) -> dict[str, Any] | None:
        prefix = "gid://shopify/ProductVariant/"
        variant = self.variants.get(int(gid.removeprefix(prefix))) if gid.startswith(prefix) else None
        if variant is None:
            return None
        level = location in variant.levels
        return {
            "id": gid,
            "inventoryPolicy": variant.policy,
            "inventoryItem": {
                "id": f"gid://shopify/InventoryItem/{variant.item}",
                "tracked": variant.tracked,
                "inventoryLevel": (
                    {"quantities": [{"name": "available", "quantity": variant.levels[location]}]}
                    if level
                    else None
                ),
            },
        }

    async def _set_quantities(self, variables: dict[str, Any], *, idempotent: bool) -> web.Response:
        entries: list[dict[str, Any]] = variables["input"]["quantities"]
        if len(entries) > MAX_INPUT:
            return self._too_many(len(entries))
        refused = self._charge(10)
        if refused is not None:
            return refused
        if not idempotent:  # mandatory from 2026-04 although the schema cannot say so
            return self._answer(None, 10, errors=[{"message": "The @idempotent directive is required"}])
        key = str(variables.get("idempotencyKey"))
        fingerprint = json.dumps(variables["input"], sort_keys=True)
        if key in self._replays:
            seen, payload = self._replays[key]
            if seen != fingerprint:
                payload = _payload([_error("IDEMPOTENCY_KEY_PARAMETER_MISMATCH", None, "key reused")])
            return self._answer({"inventorySetQuantities": payload}, 10)
        self.stats.mutation_calls += 1
        self.stats.batch_sizes.append(len(entries))
        errors = [e for i, entry in enumerate(entries) if (e := self._check(i, entry)) is not None]
        if errors:  # all-or-nothing
            payload = _payload(errors)
        else:
            payload = _payload([], [self._write(entry) for entry in entries])
            for entry in entries:
                await self._notify(
                    _number(entry["inventoryItemId"]), _number(entry["locationId"]), entry["quantity"]
                )
        self._replays[key] = (fingerprint, payload)
        return self._answer({"inventorySetQuantities": payload}, 10)

    def _check(self, index: int, entry: dict[str, Any]) -> dict[str, Any] | None:
        variant = self._by_item(_number(entry["inventoryItemId"]))
        location = _number(entry["locationId"])
        if "changeFromQuantity" not in entry:
            return _error("INVALID", [*_at(index), "changeFromQuantity"], "changeFromQuantity is required")
        if variant is None:
            return _error("INVALID_INVENTORY_ITEM", [*_at(index), "inventoryItemId"], "item not found")
        if location not in variant.levels:
            return _error("ITEM_NOT_STOCKED_AT_LOCATION", [*_at(index), "locationId"], "not stocked here")
        if entry["quantity"] < 0:
            return _error("INVALID_QUANTITY_NEGATIVE", [*_at(index), "quantity"], "must not be negative")
        expected = entry["changeFromQuantity"]
        if expected is not None and expected != variant.levels[location]:
            return _error("CHANGE_FROM_QUANTITY_STALE", [*_at(index), "changeFromQuantity"], "stale quantity")
        return None

    def _write(self, entry: dict[str, Any]) -> dict[str, Any]:
        variant = self._by_item(_number(entry["inventoryItemId"]))
        assert variant is not None
        variant.levels[_number(entry["locationId"])] = entry["quantity"]
        return {
            "name": "available",
            "quantityAfterChange": entry["quantity"],
            "item": {"id": entry["inventoryItemId"]},
            "location": {"id": entry["locationId"]},
        }

    def _by_item(self, item: int) -> FakeVariant | None:
        return next((v for v in self.variants.values() if v.item == item), None)

    # --- cost and answers ------------------------------------------------------------------------

    def _refill(self) -> None:
        now = time.monotonic()
        self._available = min(self.bucket, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def _charge(self, cost: float) -> web.Response | None:
        if cost > MAX_QUERY_COST:
            error = {
                "message": f"Query cost is {cost}, which exceeds the single query max cost limit (1000).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST},
            }
            return self._answer(None, cost, errors=[error])
        self._refill()
        if cost > self._available:
            self.stats.throttled += 1
            throttled = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
            return self._answer(None, cost, errors=[throttled], actual=None)
        self._available -= cost
        return None

    def _too_many(self, size: int) -> web.Response:
        error = {
            "message": f"The input array size of {size} is greater than the maximum allowed of {MAX_INPUT}.",
            "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"},
        }
        return self._answer(None, 0, errors=[error])

    def _answer(
        self, data: Any, cost: float, errors: list[dict[str, Any]] | None = None, actual: float | None = -1
    ) -> web.Response:
        status = {
            "maximumAvailable": self.bucket,
            "currentlyAvailable": self._available,
            "restoreRate": self.restore_rate,
        }
        extensions = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": cost if actual == -1 else actual,
                "throttleStatus": status,
            }
        }
        body: dict[str, Any] = {"extensions": extensions}
        if errors:
            body["errors"] = errors
        if data is not None or not errors:
            body["data"] = data
        return web.json_response(body)

    async def _notify(self, item: int, location: int, available: int) -> None:
        if self.webhook_url is None or self._client is None:
            return
        raw = json.dumps(
            {
                "inventory_item_id": item,
                "location_id": location,
                "available": available,
                "updated_at": "2026-11-22T10:00:00-05:00",
                "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
            }
        ).encode()
        digest = base64.b64encode(
            hmac.new(self.client_secret.encode(), raw, hashlib.sha256).digest()
        ).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Topic": "inventory_levels/update",
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": self.version,
        }
        async with self._client.post(self.webhook_url, data=raw, headers=headers) as answer:
            answer.raise_for_status()
        self.stats.webhooks_sent += 1


def _payload(errors: list[dict[str, Any]], changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    group = {"changes": changes} if changes is not None else None
    return {"inventoryAdjustmentGroup": group, "userErrors": errors}


def _error(code: str, path: list[str] | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": path, "message": message}


def _at(index: int) -> list[str]:
    return ["input", "quantities", str(index)]


def _number(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[1])
