"""A local BASE API v1 (127.0.0.1, port 0) built from the documentation (reconcilers/sources/base.md),
strict where the docs are:

- Every API request needs `Authorization: Bearer <access token>`; a missing, unknown or expired token
  answers 400 `invalid_request` (BASE answers every error with 400 `{"error", "error_description"}`).
  Tokens carry scopes: reads need `read_items`, edit_stock `write_items` (else 400 `invalid_scope`).
- POST /1/oauth/token, form-encoded: grant_type=refresh_token with client_id, client_secret,
  refresh_token and redirect_uri, all required (or client id/secret by Basic auth); answers
  {access_token, token_type: bearer, expires_in: 3600, refresh_token}. The docs do not say whether the
  old refresh token stays valid: here it does (a restarted client may still hold it).
- GET /1/items: order=list_order|created|modified, sort=asc|desc, limit (default 20, at most 100: more
  is a 400 bad_params), offset; each item with `stock`, `modified` and `variations[]`.
- GET /1/items/detail/{item_id}: one item, or 400 `no_item`.
- POST /1/items/edit_stock, form-encoded only (a GET answers `not_post_method`): item_id (unknown:
  `bad_item_id`) and `stock` for an item without variations, or `variation_id` (unknown:
  `bad_variation_id`) + `variation_stock`; an item's stock is the sum of its variations' (set here,
  never written). A missing value is `bad_params`, a count that is not a whole number >= 0
  `validation_error`. Answers the whole item.
- Quotas per shop: 5,000 requests per hour, 100,000 per day; over them 400 `hour_api_limit` /
  `day_api_limit`, counted on the fake's clock (`now`, epoch seconds), which every answer's Date header
  shows; the hour resets at :00, the day at midnight in Japan.
- Knobs: `throttle_next` / `day_limit_next` (the quota answers), `fail_next` (5xx statuses), `refused`
  (item ids whose edit_stock answers validation_error), `expire_tokens()`.
It is a test double only; it never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from aiohttp import web

MAX_LIMIT = 100
JST = timezone(timedelta(hours=9))
ERRORS = {
    "invalid_request": "アクセストークンが無効です。",
    "invalid_scope": "スコープが無効です。",
    "not_post_method": "POSTで送信してください。",
    "no_item": "商品が見つかりませんでした。",
    "bad_item_id": "不正なitem_idです。",
    "bad_variation_id": "不正なvariation_idです。",
    "bad_params": "不正なパラメーターです。",
    "validation_error": "バリデーションエラーです。",
    "hour_api_limit": "1時間のAPIの利用上限を超えました。時間が変わってからもう一度アクセスしてください。",
    "day_api_limit": "1日のAPIの利用上限を超えました。日付が変わってからもう一度アクセスしてください。",
    "unauthorized_client": "クライアントが見つかりませんでした。",
}


@dataclass
class BaseStats:
    requests: int = 0  # API requests (not the token endpoint)
    token_requests: int = 0
    details: list[int] = field(default_factory=list)
    listing_pages: list[dict[str, str]] = field(default_factory=list)
    writes: list[dict[str, str]] = field(default_factory=list)  # accepted edit_stock forms
    throttled: int = 0


@dataclass
class Token:
    scopes: frozenset[str]
    expires_at: float


class BaseFake:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str, refresh_token: str) -> None:
        self.client = (client_id, client_secret, redirect_uri)
        self.refresh_tokens = {refresh_token}
        self.scopes = frozenset({"read_users", "read_items", "write_items"})
        self.tokens: dict[str, Token] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.stats = BaseStats()
        self.now: Callable[[], float] = time.time
        self.limit_per_hour, self.limit_per_day = 5_000, 100_000
        self.throttle_next = 0
        self.day_limit_next = 0
        self.fail_next: list[int] = []
        self.refused: set[int] = set()
        self._hour: tuple[int, int] = (0, 0)  # (hour number, requests in it)
        self._day: tuple[int, int] = (0, 0)
        self._created = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/1/oauth/token", self._token)
        app.router.add_get("/1/items", self._listing)
        app.router.add_get("/1/items/detail/{item_id}", self._detail)
        app.router.add_route("*", "/1/items/edit_stock", self._edit_stock)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- seeding and reading (tests) ---------------------------------------------------------------

    def seed(self, item_id: int, stock: int | None = None, variations: dict[int, int] | None = None) -> None:
        """An item without variations (`stock`) or with them ({variation_id: variation_stock})."""
        rows = [
            {"variation_id": v, "variation": f"V{v}", "variation_stock": s, "variation_identifier": None}
            for v, s in (variations or {}).items()
        ]
        self.items[item_id] = {
            "item_id": item_id,
            "title": f"Item {item_id}",
            "price": 3900,
            "stock": sum(r["variation_stock"] for r in rows) if rows else stock,
            "visible": 1,
            "list_order": item_id,
            "identifier": None,
            "modified": int(self.now()),
            # not among the answer's documented fields; kept for order=created (a re-seed keeps its place)
            "created": self.items[item_id]["created"] if item_id in self.items else next(self._created),
            "variations": rows,
        }

    def stock(self, item_id: int, variation_id: int | None = None) -> int | None:
        item = self.items.get(item_id)
        if item is None:
            return None
        if variation_id is None:
            return int(item["stock"])
        rows = [r for r in item["variations"] if r["variation_id"] == variation_id]
        return int(rows[0]["variation_stock"]) if rows else None

    def issue(self, scopes: frozenset[str] | None = None, lifetime: float = 3600) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = Token(scopes or self.scopes, self.now() + lifetime)
        return token

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.expires_at = 0.0

    # --- the API ------------------------------------------------------------------------------------

    def _error(self, code: str, status: int = 400) -> web.Response:
        return self._json({"error": code, "error_description": ERRORS.get(code, code)}, status)

    def _json(self, body: Any, status: int = 200) -> web.Response:
        date = format_datetime(datetime.fromtimestamp(self.now(), UTC), usegmt=True)
        return web.json_response(body, status=status, headers={"Date": date})

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/1/oauth/token":
            self.stats.token_requests += 1
            return await handler(request)
        self.stats.requests += 1
        if self.fail_next:
            return self._json(
                {"error": "server_error", "error_description": "DB error"}, self.fail_next.pop(0)
            )
        limited = self._quota()
        if limited is not None:
            self.stats.throttled += 1
            return self._error(limited)
        auth = request.headers.get("Authorization", "")
        token = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if token is None or token.expires_at <= self.now():
            return self._error("invalid_request")
        needed = "write_items" if request.path.endswith("/edit_stock") else "read_items"
        if needed not in token.scopes:
            return self._error("invalid_scope")
        return await handler(request)

    def _quota(self) -> str | None:
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return "hour_api_limit"
        if self.day_limit_next > 0:
            self.day_limit_next -= 1
            return "day_api_limit"
        now = self.now()
        hour, day = int(now // 3600), datetime.fromtimestamp(now, JST).toordinal()
        self._hour = (hour, self._hour[1] + 1 if self._hour[0] == hour else 1)
        self._day = (day, self._day[1] + 1 if self._day[0] == day else 1)
        if self._day[1] > self.limit_per_day:
            return "day_api_limit"
        return "hour_api_limit" if self._hour[1] > self.limit_per_hour else None

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return self._error("invalid_request")
        form = await request.post()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "refresh_token":
            return self._error("invalid_request")
        if not client_id or not client_secret:
            return self._error("invalid_request")
        if (client_id, client_secret) != self.client[:2]:
            return self._error("unauthorized_client")
        if form.get("redirect_uri") != self.client[2] or form.get("refresh_token") not in self.refresh_tokens:
            return self._error("invalid_request")
        renewed = secrets.token_hex(16)
        self.refresh_tokens.add(renewed)
        body = {"access_token": self.issue(), "token_type": "bearer", "expires_in": 3600}
        return self._json(body | {"refresh_token": renewed})

    async def _listing(self, request: web.Request) -> web.Response:
        query = request.query
        order, sort = query.get("order", "list_order"), query.get("sort", "asc")
        try:
            limit, offset = int(query.get("limit", "20")), int(query.get("offset", "0"))
        except ValueError:
            return self._error("bad_params")
        if order not in ("list_order", "created", "modified") or sort not in ("asc", "desc"):
            return self._error("bad_params")
        if not 0 < limit <= MAX_LIMIT or offset < 0:
            return self._error("bad_params")
        self.stats.listing_pages.append(dict(query))
        rows = sorted(self.items.values(), key=lambda i: (i[order], i["item_id"]), reverse=sort == "desc")
        return self._json({"items": [_shown(i) for i in rows[offset : offset + limit]]})

    async def _detail(self, request: web.Request) -> web.Response:
        item_id = request.match_info["item_id"]
        item = self.items.get(int(item_id)) if item_id.isdigit() else None
        if item is None:
            return self._error("no_item")
        self.stats.details.append(int(item_id))
        return self._json({"item": _shown(item)})

    async def _edit_stock(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self._error("not_post_method")
        if request.content_type != "application/x-www-form-urlencoded":
            return self._error("bad_params")  # JSON is not read: no parameters arrived
        form = {k: str(v) for k, v in (await request.post()).items()}
        raw_item = form.get("item_id", "")
        item = self.items.get(int(raw_item)) if raw_item.isdigit() else None
        if item is None:
            return self._error("bad_item_id")
        if item["item_id"] in self.refused:
            return self._error("validation_error")
        if item["variations"]:
            rows = [r for r in item["variations"] if str(r["variation_id"]) == form.get("variation_id")]
            if not rows:
                return self._error("bad_variation_id")
            value = form.get("variation_stock")
        else:
            rows, value = [], form.get("stock")
        if value is None:
            return self._error("bad_params")
        if not value.isdigit():
            return self._error("validation_error")
        if rows:
            rows[0]["variation_stock"] = int(value)
            item["stock"] = sum(r["variation_stock"] for r in item["variations"])
        else:
            item["stock"] = int(value)
        item["modified"] = int(self.now())
        self.stats.writes.append(form)
        return self._json({"item": _shown(item)})


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "created"} | {
        "variations": [dict(r) for r in item["variations"]]
    }
