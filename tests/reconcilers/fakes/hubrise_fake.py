"""A local HubRise inventory API (127.0.0.1, port 0) faithful to the documented behaviour we rely on.

- GET/PUT/PATCH /v1/catalogs/:catalog_id/locations/:location_id/inventory, X-Access-Token checked (401).
- Stocks are decimal strings; no entry = unlimited. PATCH `stock: null` removes the entry and the
  answer lists only the modified entries; an entry without exactly one ref or with a stock that is not
  a decimal >= 0 refuses the whole request with 422 (nothing written).
- `throttle_next` answers that many requests with 429 (`retry_after` None: no Retry-After header, as
  documented; a string: the header is sent, as some gateways do).
- `manual_patch()` is another client's PATCH: it changes the state and POSTs an inventory.patch
  callback signed X-HubRise-Hmac-SHA256 (hex HMAC-SHA256 of the raw body, client secret).
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

_REFS = ("sku_ref", "option_ref")


@dataclass
class HubRiseStats:
    requests: int = 0
    gets: int = 0
    patches: int = 0
    puts: int = 0
    throttled_429: int = 0
    patch_sizes: list[int] = field(default_factory=list)


class HubRiseFake:
    def __init__(self, token: str, client_secret: str, catalog_id: str, location_id: str) -> None:
        self.token, self.client_secret = token, client_secret
        self.path = f"/v1/catalogs/{catalog_id}/locations/{location_id}/inventory"
        self.catalog_id, self.location_id = catalog_id, location_id
        self.inventory: dict[tuple[str, str], str] = {}  # (ref field, ref) -> stock
        self.stats = HubRiseStats()
        self.throttle_next = 0
        self.retry_after: str | None = "1"
        self.callback_url: str | None = None
        self.field_errors: list[dict[str, str]] = []  # next PATCH answers 422 with these errors[]
        self.refused_refs: set[str] = set()  # a PATCH naming one of these refs answers 422
        self.fail_next: list[int] = []  # HTTP statuses (5xx) to answer before serving normally
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", self.path, self._inventory)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def entries(self) -> list[dict[str, str]]:
        return [{kind: ref, "stock": stock} for (kind, ref), stock in self.inventory.items()]

    async def _inventory(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Bad Gateway")
        if request.headers.get("X-Access-Token") != self.token:
            return web.json_response({"error_type": "unauthorized", "message": "Invalid token"}, status=401)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled_429 += 1
            return web.json_response(
                {"error_type": "too_many_requests", "message": "Rate limit exceeded"},
                status=429,
                headers={} if self.retry_after is None else {"Retry-After": self.retry_after},
            )
        if request.method == "GET":
            self.stats.gets += 1
            return web.json_response(self.entries())
        if request.method not in ("PATCH", "PUT"):
            return web.json_response({"error_type": "method_not_allowed"}, status=405)
        if self.field_errors:
            errors, self.field_errors = self.field_errors, []
            return web.json_response(
                {"error_type": "unprocessable_entity", "message": "Validation failed", "errors": errors},
                status=422,
            )
        try:
            parsed = _validated(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response(
                {"error_type": "unprocessable_entity", "message": f"Validation failed: {exc}"}, status=422
            )
        refused = sorted({ref for (_, ref), _ in parsed} & self.refused_refs)
        if refused:
            errors = [{"field": "sku_ref", "message": f"{ref} is not in the catalog"} for ref in refused]
            return web.json_response(
                {"error_type": "unprocessable_entity", "message": "Validation failed", "errors": errors},
                status=422,
            )
        if request.method == "PUT":
            self.stats.puts += 1
            self.inventory = {key: stock for key, stock in parsed if stock is not None}
            return web.json_response(self.entries())
        self.stats.patches += 1
        self.stats.patch_sizes.append(len(parsed))
        return web.json_response(self._patch(parsed))

    def _patch(self, parsed: list[tuple[tuple[str, str], str | None]]) -> list[dict[str, Any]]:
        modified: list[dict[str, Any]] = []
        for key, stock in parsed:
            if stock is None:
                if self.inventory.pop(key, None) is not None:
                    modified.append({key[0]: key[1], "stock": None})
            elif self.inventory.get(key) != stock:
                self.inventory[key] = stock
                modified.append({key[0]: key[1], "stock": stock})
        return modified

    async def manual_patch(self, session: aiohttp.ClientSession, entries: list[dict[str, Any]]) -> None:
        """Another client (a POS bridge) patches the inventory; our callback hears about it."""
        self._patch(_validated(entries))
        if self.callback_url is None:
            return
        body = json.dumps(
            {
                "id": "ev001",
                "resource_type": "inventory",
                "event_type": "patch",
                "created_at": "2026-11-23T09:00:00+01:00",
                "catalog_id": self.catalog_id,
                "location_id": self.location_id,
                "state_change": entries,
            }
        ).encode()
        signature = hmac.new(self.client_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-HubRise-Hmac-SHA256": signature}
        async with session.post(self.callback_url, data=body, headers=headers) as answer:
            answer.raise_for_status()


def _validated(body: Any) -> list[tuple[tuple[str, str], str | None]]:
    if not isinstance(body, list):
        raise TypeError("body must be a list of entries")
    parsed: list[tuple[tuple[str, str], str | None]] = []
    for entry in body:
        if not isinstance(entry, dict):
            raise TypeError("entry must be an object")
        refs = [k for k in _REFS if k in entry]
        if len(refs) != 1 or not isinstance(entry[refs[0]], str):
            raise ValueError("entry needs exactly one of sku_ref, option_ref")
        stock = entry.get("stock")
        if stock is not None:
            try:
                value = Decimal(str(stock))
            except InvalidOperation:
                raise ValueError("stock must be a positive decimal") from None
            if value < 0 or isinstance(stock, bool):
                raise ValueError("stock must be a positive decimal")
            stock = str(stock)
        parsed.append(((refs[0], entry[refs[0]]), stock))
    return parsed
