"""A local TikTok Shop Partner API (127.0.0.1, port 0) built from the Partner Center docs (Sign your API
request, Common errors, Rate limits, Inventory Search 202309, Update Inventory 202309, Authorization
overview 202407, webhook configuration guide, webhook 27 INVENTORY_STATUS_CHANGE):

- every API call needs query `app_key`, `timestamp` (5 min before .. 30 s after now), `sign` (hex
  HMAC-SHA256, key app secret, of secret + path + sorted {name}{value} params except sign/access_token +
  raw body + secret), `shop_cipher`, header `x-tts-access-token` and `content-type: application/json`.
  Answers are always the envelope {code, message, request_id, data}: code 0 is success. Refusals:
  36009004 (missing sign, bad app_key, bad timestamp, bad token: HTTP 401 for the token, 400 else),
  106001 bad sign (401), 105002 expired token (401), 106013 no shop_cipher (400), 36009022 not JSON,
  36009009 unknown path (404).
- POST /product/202309/inventory/search {sku_ids ≤ 600 | product_ids ≤ 100} (sku_ids win when both;
  ids must be strings): inventory[] {product_id, skus[] {id, seller_sku, total_available_quantity,
  total_committed_quantity, warehouse_inventory[] {warehouse_id, available_quantity,
  committed_quantity}}}; unknown ids are left out. Over the cap: 12019015 / 12019120.
- POST /product/202309/products/{id}/inventory/update {skus[] {id, inventory[] {warehouse_id?,
  quantity}}}: the product must exist (12052032) and be ACTIVATE (12052901); skus non-empty
  (12052902), at most 100 (12052050), no repeats (12052553). Per SKU, refused ones land in
  data.errors[] {code, message, detail {sku_id, extra_errors[]}} with envelope code 0 while the others
  are written: SKU not of the product (12052556), a warehouse missing when the SKU has several
  (12019028), an unknown warehouse (12052990 + extra 12052097), a quantity outside 0..99,999 or not a
  whole number (12052055). (The current reference states [1, 99,999]; its 2024 copy allowed 0. The
  fake accepts 0 unless `zero_allowed` is False.) `refused_skus` are refused with 12052990.
- GET /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token: a new access
  token (expiry as a unix timestamp) and refresh token; the old access token stops working.
- throttling: `throttle_next` answers HTTP 429 {code 36009002}; `throttle_in_body_next` HTTP 200 with
  that code; `fail_next` that many 503s.
- `webhook(product_id, sku_id)` is a type 27 notification signed in `Authorization` (hex HMAC-SHA256 of
  app_key + body). The real store notifies only stock *status* changes; this fake queues one per
  written SKU in `webhooks` so tests can deliver the echoes of our own writes.
A test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SEARCH = "/product/202309/inventory/search"
MAX_SKU_IDS, MAX_PRODUCT_IDS, MAX_SKUS, MAX_QUANTITY = 600, 100, 100, 99_999


@dataclass
class FakeSku:
    id: str
    product_id: str
    stock: dict[str, int]  # warehouse id -> quantity (available)
    committed: int = 0


@dataclass
class TiktokStats:
    requests: int = 0
    searches: int = 0
    updates: int = 0
    refreshes: int = 0
    throttled: int = 0
    update_sizes: list[int] = field(default_factory=list)
    search_sizes: list[int] = field(default_factory=list)


class TiktokFake:
    def __init__(self, app_key: str, app_secret: str, token: str, refresh: str = "refresh-1") -> None:
        self.app_key, self.app_secret, self.token, self.refresh = app_key, app_secret, token, refresh
        self.shop_cipher = "ROW_fakeShopCipher"
        self.shop_id = "7494049642642441621"
        self.skus: dict[str, FakeSku] = {}
        self.product_status: dict[str, str] = {}
        self.expired = False  # the access token is past its expiry (105002)
        self.zero_allowed = True
        self.throttle_next = 0
        self.throttle_in_body_next = 0
        self.fail_next: list[int] = []
        self.refused_skus: set[str] = set()
        self.webhooks: list[bytes] = []
        self.stats = TiktokStats()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post(SEARCH, self._search)
        app.router.add_post("/product/202309/products/{pid}/inventory/update", self._update)
        app.router.add_get("/api/v2/token/refresh", self._refresh)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, sku: FakeSku, status: str = "ACTIVATE") -> None:
        self.skus[sku.id] = sku
        self.product_status.setdefault(sku.product_id, status)

    def webhook(self, product_id: str, sku_id: str) -> tuple[dict[str, str], bytes]:
        sku = self.skus.get(sku_id)
        available = sum(sku.stock.values()) if sku else 0
        body = json.dumps(
            {
                "type": 27,
                "tts_notification_id": str(7327112393057371910 + next(self._ids)),
                "shop_id": self.shop_id,
                "timestamp": int(time.time()),
                "data": {
                    "product_id": product_id,
                    "sku_id": sku_id,
                    "trigger_reason": {"alert_type": "REALTIME", "low_stock_threshold": 0},
                    "current_inventory_status": "OUT_OF_STOCK" if available == 0 else "LOW_STOCK",
                    "inventory_distribution": {"total_quantity": available, "available_quantity": available},
                    "update_time": int(time.time()),
                },
            }
        ).encode()
        return self.signed(body), body

    def signed(self, body: bytes) -> dict[str, str]:
        signature = hmac.new(self.app_secret.encode(), self.app_key.encode() + body, hashlib.sha256)
        return {"Authorization": signature.hexdigest(), "Content-Type": "application/json"}

    def expected_sign(self, path: str, query: dict[str, str], body: bytes) -> str:
        pairs = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
        key = self.app_secret.encode()
        return hmac.new(key, key + path.encode() + pairs.encode() + body + key, hashlib.sha256).hexdigest()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests += 1
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Service Unavailable")
        if self.throttle_next > 0 or self.throttle_in_body_next > 0:
            status = 429 if self.throttle_next > 0 else 200
            if status == 429:
                self.throttle_next -= 1
            else:
                self.throttle_in_body_next -= 1
            self.stats.throttled += 1
            return _envelope(
                36009002,
                "Too many requests. You've made too many requests in a short period of time.",
                status=status,
            )
        refused = None
        if request.path != "/api/v2/token/refresh":  # the auth host's token call is not signed
            refused = self._check(request, await request.read())
        answer: web.StreamResponse = refused if refused is not None else await handler(request)
        return answer

    def _check(self, request: web.Request, raw: bytes) -> web.Response | None:
        query = dict(request.query)
        if query.get("app_key") != self.app_key:
            return _envelope(36009004, "Invalid credentials. Invalid `app_key` query parameter.", status=400)
        if not query.get("sign"):
            return _envelope(
                36009004,
                "Missing credentials. The request does not include a required signature.",
                status=400,
            )
        stamp = query.get("timestamp", "")
        if not stamp.isdigit() or not -300 <= int(stamp) - time.time() <= 30:
            return _envelope(36009004, "Invalid timestamp.", status=400)
        if not hmac.compare_digest(query["sign"], self.expected_sign(request.path, query, raw)):
            return _envelope(
                106001, "Invalid credentials. The `sign` query parameter is invalid.", status=401
            )
        if request.headers.get("x-tts-access-token") != self.token:
            return _envelope(
                36009004, "Invalid credentials. The `x-tts-access-token` header is invalid.", status=401
            )
        if self.expired:
            return _envelope(
                105002, "Expired credentials. The `x-tts-access-token` header has expired.", status=401
            )
        if not query.get("shop_cipher"):
            return _envelope(
                106013, "Missing identifier. The `shop_cipher` query parameter is required.", status=400
            )
        if query["shop_cipher"] != self.shop_cipher:
            return _envelope(101000, "Invalid query or header.", status=401)
        if request.content_type != "application/json":
            return _envelope(36009022, "Invalid request format.", status=400)
        return None

    async def _refresh(self, request: web.Request) -> web.Response:
        q = request.query
        good = q.get("app_key") == self.app_key and q.get("app_secret") == self.app_secret
        if not good or q.get("grant_type") != "refresh_token" or q.get("refresh_token") != self.refresh:
            return _envelope(36004004, "invalid refresh token")
        self.stats.refreshes += 1
        number = next(self._ids)
        self.token, self.refresh, self.expired = f"TTP_access_{number}", f"TTP_refresh_{number}", False
        data = {
            "access_token": self.token,
            "access_token_expire_in": int(time.time()) + 7 * 86400,
            "refresh_token": self.refresh,
            "refresh_token_expire_in": int(time.time()) + 60 * 86400,
        }
        return _envelope(0, "success", data)

    async def _search(self, request: web.Request) -> web.Response:
        self.stats.searches += 1
        body = _json(await request.read())
        if not isinstance(body, dict):
            return _envelope(36009022, "Invalid request format.")
        sku_ids, product_ids = body.get("sku_ids") or [], body.get("product_ids") or []
        if sku_ids:
            if len(sku_ids) > MAX_SKU_IDS:
                return _envelope(12019015, "The number of SKU exceed the limit")
            if not all(isinstance(i, str) for i in sku_ids):
                return _envelope(12019008, "Product id is invalid")
            found = [self.skus[i] for i in sku_ids if i in self.skus]
            self.stats.search_sizes.append(len(sku_ids))
        elif product_ids:
            if len(product_ids) > MAX_PRODUCT_IDS:
                return _envelope(12019120, "The number of provided product IDs exceeds the limit.")
            if not all(isinstance(i, str) for i in product_ids):
                return _envelope(12019008, "Product id is invalid")
            found = [s for s in self.skus.values() if s.product_id in product_ids]
        else:
            return _envelope(12019008, "Product id is invalid")
        grouped: dict[str, list[dict[str, Any]]] = {}
        for sku in found:
            rows = [
                {"warehouse_id": w, "available_quantity": q, "committed_quantity": sku.committed}
                for w, q in sku.stock.items()
            ]
            grouped.setdefault(sku.product_id, []).append(
                {
                    "id": sku.id,
                    "seller_sku": f"SELLER-{sku.id[-4:]}",
                    "total_available_quantity": sum(sku.stock.values()),
                    "total_committed_quantity": sku.committed * len(sku.stock),
                    "warehouse_inventory": rows,
                }
            )
        inventory = [{"product_id": p, "skus": s} for p, s in grouped.items()]
        return _envelope(0, "Success", {"inventory": inventory})

    async def _update(self, request: web.Request) -> web.Response:
        product_id = request.match_info["pid"]
        body = _json(await request.read())
        if product_id not in self.product_status:
            return _envelope(12052032, "The product does not exist")
        if self.product_status[product_id] != "ACTIVATE":
            return _envelope(
                12052901, "The product in its current status is not available for this operation."
            )
        skus = body.get("skus") if isinstance(body, dict) else None
        if not isinstance(skus, list) or not skus:
            return _envelope(12052902, "The SKU list is empty.")
        if len(skus) > MAX_SKUS:
            return _envelope(12052050, "A single product cannot have more than 100 different SKUs")
        ids = [s.get("id") if isinstance(s, dict) else None for s in skus]
        if len(set(map(str, ids))) != len(ids):
            return _envelope(12052553, "Sku id duplicate")
        self.stats.updates += 1
        self.stats.update_sizes.append(len(skus))
        errors = [e for s in skus if (e := self._write(product_id, s)) is not None]
        return _envelope(0, "Success", {"errors": errors} if errors else {})

    def _write(self, product_id: str, entry: Any) -> dict[str, Any] | None:
        sku_id = entry.get("id") if isinstance(entry, dict) else None
        sku = self.skus.get(sku_id) if isinstance(sku_id, str) else None
        if sku is None or sku.product_id != product_id:
            return _sku_error(12052556, "The SKU id not exist.", sku_id)
        if sku.id in self.refused_skus:
            return _sku_error(12052990, "Check failed", sku.id)
        levels = entry.get("inventory")
        if not isinstance(levels, list) or not levels:
            return _sku_error(12019022, "SKU must contain a valid warehouse.", sku.id)
        updates: dict[str, int] = {}
        for level in levels:
            warehouse = level.get("warehouse_id") if isinstance(level, dict) else None
            if warehouse is None and len(sku.stock) == 1:
                warehouse = next(iter(sku.stock))
            if warehouse is None:
                return _sku_error(
                    12019028, "Multiple warehouses detected. Include all warehouse IDs.", sku.id
                )
            if warehouse not in sku.stock:
                extra = [
                    {"warehouse_id": warehouse, "code": 12052097, "message": "The warehouse does not exist"}
                ]
                return _sku_error(12052990, "Check failed", sku.id, extra)
            quantity = level.get("quantity")
            lowest = 0 if self.zero_allowed else 1
            if (
                isinstance(quantity, bool)
                or not isinstance(quantity, int)
                or not lowest <= quantity <= MAX_QUANTITY
            ):
                return _sku_error(
                    12052055,
                    "The SKU inventory quantity for the warehouse must be within allowed limits.",
                    sku.id,
                )
            updates[warehouse] = quantity
        if set(updates) != set(sku.stock):
            return _sku_error(12019028, "Multiple warehouses detected. Include all warehouse IDs.", sku.id)
        sku.stock.update(updates)
        self.webhooks.append(self.webhook(product_id, sku.id)[1])
        return None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _sku_error(
    code: int, message: str, sku_id: Any, extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {"sku_id": sku_id if isinstance(sku_id, str) else ""}
    if extra:
        detail["extra_errors"] = extra
    return {"code": code, "message": message, "detail": detail}


def _envelope(code: int, message: str, data: Any = None, *, status: int = 200) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "request_id": "202612070749000101890810281E8C70B7",
        "data": data,
    }
    return web.json_response(body, status=status)
