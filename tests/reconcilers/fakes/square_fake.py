"""A local Square Catalog + Inventory API (127.0.0.1, port 0) written from Square's documentation.

Reproduced (developer.squareup.com reference and guides, square/connect-api-specification, read
2026-12-07; see reconcilers/sources/square.md):
- `Authorization: Bearer <token>` on every call (401 AUTHENTICATION_ERROR/UNAUTHORIZED otherwise);
  a `Square-Version` header, when sent, must be a YYYY-MM-DD date (400 INVALID_SQUARE_VERSION_FORMAT);
  the versions seen are kept in `versions`.
- POST /v2/catalog/batch-retrieve: `object_ids` required, at most 1000 (catalog info limit
  batch_retrieve_max_object_ids); unknown ids are simply absent. A variation carries
  `track_inventory` and `location_overrides[] {location_id, track_inventory?, sold_out}`; Square sets
  `sold_out` itself when a tracked count reaches 0, and a seller can set it by hand.
- POST /v2/inventory/counts/batch-retrieve: filters catalog_object_ids / location_ids / states,
  `limit` 1..1000 (default 100, as observed by Square staff), opaque `cursor` (INVALID_CURSOR), newest
  `calculated_at` first; a variation without a count record is absent.
- POST /v2/inventory/changes/batch-create: `idempotency_key` required (1..128; the same key and body
  replays the first answer, another body is IDEMPOTENCY_KEY_REUSED), at most 100 changes,
  PHYSICAL_COUNT needs catalog_object_id, location_id, state, a decimal `quantity` (<= 5 decimals) and
  `occurred_at` (not in the future, at most 24 h old). All or nothing: any bad change answers 400 with
  `errors[]` whose `field` names `changes[N]...`, and nothing is applied. A count older than the last
  change of the same item does not replace it. `ignore_unchanged_counts` (default true) skips a count
  equal to the current one. The answer lists the current counts of every object referenced.
- Throttling: 429 with errors[].code RATE_LIMITED and no Retry-After (none is documented).
- Webhooks: `inventory.count.updated` after every count change (ours included) and
  `catalog.version.updated` after a sold-out toggle, POSTed to `webhook_url` and signed
  `x-square-hmacsha256-signature` = base64 HMAC-SHA256(signature key, notification URL + raw body).
With `spec` (tests/spec_validation.Spec) every request and answer is checked; refusals are kept in
`violations`. It never talks to anything but loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

MAX_CHANGES = 100
MAX_OBJECT_IDS = 1000
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_STATES = {"IN_STOCK", "SOLD", "WASTE", "NONE", "RESERVED_FOR_SALE", "SOLD_ONLINE", "CUSTOM"}


@dataclass
class FakeVariation:
    tracked: bool = True
    location_tracked: bool | None = None  # a location override's track_inventory (None: not set)
    sold_out_by_hand: bool = False
    present: bool = True
    version: int = 1


@dataclass
class SquareStats:
    requests: int = 0
    catalog_reads: int = 0
    count_reads: int = 0
    writes: int = 0
    replays: int = 0
    throttled: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    webhooks_sent: int = 0


class SquareFake:
    def __init__(self, token: str, signature_key: str, location_id: str, *, spec: Any = None) -> None:
        self.token, self.signature_key, self.location_id = token, signature_key, location_id
        self.spec = spec
        self.variations: dict[str, FakeVariation] = {}
        self.counts: dict[str, str] = {}  # IN_STOCK count at location_id by variation id
        self.stamps: dict[str, datetime] = {}  # occurred_at of the last change per variation
        self.refused_ids: set[str] = set()  # a change naming one of these is refused (INVALID_VALUE)
        self.throttle_next = 0
        self.fail_next: list[int] = []
        self.webhook_url: str | None = None
        self.stats = SquareStats()
        self.versions: set[str] = set()
        self.keys: list[str] = []  # idempotency keys of the write requests, in order
        self.violations: list[str] = []
        self._replays: dict[str, tuple[str, dict[str, Any]]] = {}
        self.base_url = ""  # set by start()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v2/catalog/batch-retrieve", self._catalog)
        app.router.add_post("/v2/inventory/counts/batch-retrieve", self._read_counts)
        app.router.add_post("/v2/inventory/changes/batch-create", self._batch_create)
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

    def add(self, object_id: str, quantity: str | None, **flags: Any) -> None:
        """A variation; `quantity` None: no count record at this location."""
        self.variations[object_id] = FakeVariation(**flags)
        if quantity is not None:
            self.counts[object_id] = quantity

    def sells(self, object_id: str) -> bool:
        """Whether buyers can order it: not sold out (an untracked variation sells without a count)."""
        return not self._sold_out(object_id)

    # --- the seller's own edits (Dashboard, POS) -------------------------------------------------

    async def manual_count(self, object_id: str, quantity: str) -> None:
        self.counts[object_id] = quantity
        self.stamps[object_id] = datetime.now(UTC)
        await self._notify_counts([object_id])

    async def mark_sold_out(self, object_id: str, sold_out: bool = True) -> None:
        self.variations[object_id].sold_out_by_hand = sold_out
        self.variations[object_id].version += 1
        await self._send({"type": "catalog.version.updated", "data": {"type": "catalog_version"}})

    # --- the API ---------------------------------------------------------------------------------

    async def _gate(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """Common checks; the parsed body, or the refusal to answer."""
        self.stats.requests += 1
        body: Any = None
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._check_request(request, body)
        if self.fail_next:
            status = self.fail_next.pop(0)
            code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
            return body, _errors(status, "API_ERROR", code, "try again later")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return body, _errors(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        version = request.headers.get("Square-Version")
        if version is not None:
            if not _VERSION.fullmatch(version):
                return body, _errors(400, "INVALID_REQUEST_ERROR", "INVALID_SQUARE_VERSION_FORMAT", version)
            self.versions.add(version)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.stats.throttled += 1
            return body, _errors(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded. Retry later.")
        if not isinstance(body, dict):
            return body, _errors(
                400, "INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "a JSON object is required"
            )
        return body, None

    async def _catalog(self, request: web.Request) -> web.Response:
        body, refused = await self._gate(request)
        if refused is not None:
            return self._answer(request, refused)
        ids = body.get("object_ids")
        if not isinstance(ids, list) or not ids:
            return self._answer(
                request, _errors(400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "", "object_ids")
            )
        if len(ids) > MAX_OBJECT_IDS:
            return self._answer(
                request,
                _errors(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "ARRAY_LENGTH_TOO_LONG",
                    f"at most {MAX_OBJECT_IDS}",
                    "object_ids",
                ),
            )
        self.stats.catalog_reads += 1
        objects = [self._object(i) for i in dict.fromkeys(ids) if i in self.variations]
        return self._answer(request, web.json_response({"objects": objects}))

    def _object(self, object_id: str) -> dict[str, Any]:
        variation = self.variations[object_id]
        override: dict[str, Any] = {"location_id": self.location_id, "sold_out": self._sold_out(object_id)}
        if variation.location_tracked is not None:
            override["track_inventory"] = variation.location_tracked
        return {
            "type": "ITEM_VARIATION",
            "id": object_id,
            "version": variation.version,
            "is_deleted": False,
            "present_at_all_locations": variation.present,
            "item_variation_data": {
                "item_id": f"ITEM-{object_id}",
                "name": "Regular",
                "track_inventory": variation.tracked,
                "location_overrides": [override],
            },
        }

    def _tracked(self, object_id: str) -> bool:
        variation = self.variations[object_id]
        return variation.location_tracked if variation.location_tracked is not None else variation.tracked

    def _sold_out(self, object_id: str) -> bool:
        count = Decimal(self.counts.get(object_id, "0"))
        return self.variations[object_id].sold_out_by_hand or (self._tracked(object_id) and count <= 0)

    async def _read_counts(self, request: web.Request) -> web.Response:
        body, refused = await self._gate(request)
        if refused is not None:
            return self._answer(request, refused)
        limit = body.get("limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            return self._answer(
                request, _errors(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "1 to 1000", "limit")
            )
        try:
            offset = int(base64.b64decode(body["cursor"]).decode()) if body.get("cursor") else 0
        except (ValueError, TypeError):
            return self._answer(
                request, _errors(400, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "", "cursor")
            )
        self.stats.count_reads += 1
        matching = [
            self._count(i)
            for i in sorted(self.counts, key=lambda i: self.stamps.get(i, _EPOCH), reverse=True)
            if (body.get("catalog_object_ids") is None or i in body["catalog_object_ids"])
            and (body.get("location_ids") is None or self.location_id in body["location_ids"])
            and (body.get("states") is None or "IN_STOCK" in body["states"])
        ]
        page: dict[str, Any] = {"counts": matching[offset : offset + limit]}
        if offset + limit < len(matching):
            page["cursor"] = base64.b64encode(str(offset + limit).encode()).decode()
        return self._answer(request, web.json_response(page))

    def _count(self, object_id: str) -> dict[str, Any]:
        return {
            "catalog_object_id": object_id,
            "catalog_object_type": "ITEM_VARIATION",
            "state": "IN_STOCK",
            "location_id": self.location_id,
            "quantity": self.counts.get(object_id, "0"),
            "calculated_at": _stamp(self.stamps.get(object_id, _EPOCH)),
        }

    async def _batch_create(self, request: web.Request) -> web.Response:
        body, refused = await self._gate(request)
        if refused is not None:
            return self._answer(request, refused)
        key, changes = body.get("idempotency_key"), body.get("changes") or []
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            return self._answer(
                request,
                _errors(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "MISSING_REQUIRED_PARAMETER",
                    "1 to 128 characters",
                    "idempotency_key",
                ),
            )
        fingerprint = json.dumps(body, sort_keys=True)
        if key in self._replays:
            seen, answer = self._replays[key]
            if seen != fingerprint:
                return self._answer(
                    request,
                    _errors(
                        400,
                        "INVALID_REQUEST_ERROR",
                        "IDEMPOTENCY_KEY_REUSED",
                        "key used for another request",
                        "idempotency_key",
                    ),
                )
            self.stats.replays += 1
            return self._answer(request, web.json_response(answer))
        if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
            return self._answer(
                request,
                _errors(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "ARRAY_LENGTH_TOO_LONG",
                    f"at most {MAX_CHANGES} changes",
                    "changes",
                ),
            )
        parsed, errors = [], []
        for index, change in enumerate(changes):
            outcome = self._parse_change(change)
            if isinstance(outcome, tuple):
                parsed.append(outcome)
            else:
                errors.append({**outcome, "field": f"changes[{index}].{outcome['field']}"})
        if errors:
            return self._answer(request, web.json_response({"errors": errors}, status=400))
        self.keys.append(key)
        self.stats.writes += 1
        self.stats.batch_sizes.append(len(parsed))
        touched = []
        for object_id, quantity, when in parsed:
            if when < self.stamps.get(object_id, _EPOCH):
                continue  # an older count never replaces a later change
            if (
                body.get("ignore_unchanged_counts", True)
                and Decimal(self.counts.get(object_id, "0")) == quantity
            ):
                continue
            self.counts[object_id], self.stamps[object_id] = str(quantity), when
            touched.append(object_id)
        answer = {
            "counts": [self._count(i) for i in dict.fromkeys(p[0] for p in parsed)],
            "changes": [
                {**c, "physical_count": {**c["physical_count"], "id": uuid.uuid4().hex}} for c in changes
            ],
        }
        self._replays[key] = (fingerprint, answer)
        if touched:
            await self._notify_counts(touched)
        return self._answer(request, web.json_response(answer))

    def _parse_change(self, change: Any) -> tuple[str, Decimal, datetime] | dict[str, str]:
        if not isinstance(change, dict) or change.get("type") != "PHYSICAL_COUNT":
            return _error("NOT_IMPLEMENTED", "this fake takes PHYSICAL_COUNT changes only", "type")
        count = change.get("physical_count")
        if not isinstance(count, dict):
            return _error("MISSING_REQUIRED_PARAMETER", "physical_count is required", "physical_count")
        object_id = count.get("catalog_object_id")
        if object_id not in self.variations:
            return _error(
                "NOT_FOUND", f"Catalog object `{object_id}` not found", "physical_count.catalog_object_id"
            )
        if object_id in self.refused_ids:
            return _error(
                "INVALID_VALUE",
                f"Item variation `{object_id}` cannot be counted",
                "physical_count.catalog_object_id",
            )
        if count.get("location_id") != self.location_id:
            return _error("NOT_FOUND", "location not found", "physical_count.location_id")
        if count.get("state") not in _STATES or count.get("state") != "IN_STOCK":
            return _error("INVALID_ENUM_VALUE", "this fake counts IN_STOCK only", "physical_count.state")
        quantity = _decimal(count.get("quantity"))
        if quantity is None:
            return _error(
                "INVALID_VALUE", "a decimal string with at most 5 decimals", "physical_count.quantity"
            )
        try:
            when = datetime.fromisoformat(count["occurred_at"])
        except (KeyError, TypeError, ValueError):
            return _error(
                "MISSING_REQUIRED_PARAMETER",
                "occurred_at (RFC 3339) is required",
                "physical_count.occurred_at",
            )
        now = datetime.now(UTC)
        if when.tzinfo is None or when > now or when < now - timedelta(hours=24):
            return _error(
                "INVALID_TIME", "occurred_at must be within the last 24 hours", "physical_count.occurred_at"
            )
        return object_id, quantity, when

    # --- answers, spec checks, webhooks ----------------------------------------------------------

    def _check_request(self, request: web.Request, body: Any) -> None:
        if self.spec is not None:
            try:
                self.spec.check_request("POST", request.path, body=body)
            except AssertionError as exc:
                self.violations.append(str(exc)[:2000])

    def _answer(self, request: web.Request, response: web.Response) -> web.Response:
        if self.spec is not None:
            assert isinstance(response.body, bytes)
            try:
                self.spec.check_response("POST", request.path, response.status, json.loads(response.body))
            except AssertionError as exc:
                self.violations.append(str(exc)[:2000])
        return response

    async def _notify_counts(self, object_ids: list[str]) -> None:
        for start in range(0, len(object_ids), 100):  # up to 100 counts per notification
            counts = [self._count(i) for i in object_ids[start : start + 100]]
            await self._send(
                {
                    "type": "inventory.count.updated",
                    "data": {
                        "type": "inventory",
                        "id": uuid.uuid4().hex,
                        "object": {"inventory_counts": counts},
                    },
                }
            )

    def sign(self, body: bytes, key: str | None = None, url: str | None = None) -> str:
        message = (url if url is not None else self.webhook_url or "").encode() + body
        digest = hmac.new((key or self.signature_key).encode(), message, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def event(self, payload: dict[str, Any]) -> bytes:
        return json.dumps(
            {
                "merchant_id": "MERCHANT1",
                "event_id": str(uuid.uuid4()),
                "created_at": _stamp(datetime.now(UTC)),
                **payload,
            }
        ).encode()

    async def _send(self, payload: dict[str, Any]) -> None:
        if self.webhook_url is None or self._client is None:
            return
        raw = self.event(payload)
        headers = {"Content-Type": "application/json", "x-square-hmacsha256-signature": self.sign(raw)}
        async with self._client.post(self.webhook_url, data=raw, headers=headers) as answer:
            answer.raise_for_status()
        self.stats.webhooks_sent += 1


_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decimal(raw: Any) -> Decimal | None:
    """A quantity as Square documents it: a decimal string with at most 5 digits after the point."""
    if not isinstance(raw, str):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    exponent = value.as_tuple().exponent
    return value if isinstance(exponent, int) and exponent >= -5 else None


def _error(code: str, detail: str, field_name: str) -> dict[str, str]:
    return {"category": "INVALID_REQUEST_ERROR", "code": code, "detail": detail, "field": field_name}


def _errors(
    status: int, category: str, code: str, detail: str, field_name: str | None = None
) -> web.Response:
    error = {"category": category, "code": code, "detail": detail}
    if field_name is not None:
        error["field"] = field_name
    return web.json_response({"errors": [error]}, status=status)
