"""Printful API v2 as an upstream source: catalog availability per selling region and technique, and
warehouse stock per facility; `catalog_stock_updated` webhooks trigger a partial pull.

What a pull reads (fewest requests first):
- Catalog variants (upstream id `4011`): `GET /v2/catalog-products/{id}/availability` answers every
  variant of a product, 100 per page, so the products listed in `settings.products` cost one request
  per 100 variants each; a covered variant none of them holds is read alone with
  `GET /v2/catalog-variants/{id}/availability` (one request per variant: the variant → product link is
  not in the mappings). Several mapped regions are asked at once with `selling_region_name=all`, one
  region by its name; `techniques=<technique>` trims the answer. A partial pull of a few variants (a
  webhook) reads them one by one when that is fewer requests than the listed products.
- Warehouse variants (upstream id `warehouse:32453`): `GET /v2/warehouse-products` (100 per page) finds
  the products holding them, then `GET /v2/warehouse-products/{id}` per such product gives
  `stock_location[] {facility, stocked, available}`; `available` is the quantity.
Printful sends no cache validators, so every pull is a full read (never NotModified).

Auth: `Authorization: Bearer <private token>` (+ `X-PF-Store-Id` for an account-level token). The
credential is the token alone, or JSON {"token", "webhook_secret"} (the webhook config's hex
`secret_key`). Pacing: 120 requests per 60 s leaky bucket (2/s), X-Ratelimit-* headers and Retry-After
read by the shared transport and pacer. It never touches the database and never decides what a store
shows. Documentation read 2026-12-07: see README "### Printful".
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from daemon.errors import CredentialError, InputError
from reconcilers.capabilities import RateBudget
from reconcilers.signatures import header_value, hmac_sha256
from reconcilers.transport import PermanentError, Response
from reconcilers.webhook_json import load_webhook_json, webhook_time
from sources.interface import (
    NotModified,
    Snapshot,
    SourceCallback,
    SourceContext,
    SourceError,
    SourceStock,
    Validators,
)
from sources.printful_availability import (
    MAX_LIMIT,
    WAREHOUSE_PREFIX,
    PrintfulSettings,
    availability_rows,
    covered,
    merged,
    page_items,
    parse_settings,
    variant_id,
    warehouse_products_with,
    warehouse_rows,
)

SIGNATURE_HEADER = "x-pf-webhook-signature"
PUBLIC_KEY_HEADER = "x-pf-webhook-public-key"
STOCK_EVENT = "catalog_stock_updated"
# the other v2 event types (x-webhooks of the 2025 spec): acknowledged, nothing to pull (shipment_out_of_stock names an order's
# shipment, not the variants that ran out)
OTHER_EVENTS = frozenset(
    {
        "catalog_price_changed",
        "shipment_sent",
        "shipment_returned",
        "shipment_out_of_stock",
        "shipment_put_hold",
        "shipment_put_hold_approval",
        "shipment_remove_hold",
        "order_created",
        "order_updated",
        "order_failed",
        "order_canceled",
        "order_put_hold",
        "order_put_hold_approval",
        "order_remove_hold",
        "order_refunded",
        "mockup_task_finished",
    }
)
MAX_EVENT_ITEMS = 10_000  # changed variants of the subscribed products; the body is capped at 2 MiB
MAX_PAGES = 1000  # 100,000 items: far beyond any product's variants or a merchant's warehouse


class PrintfulReader:
    """Reads Printful availability and warehouse stock for the variants a source covers."""

    kind: ClassVar[str] = "printful"
    # 120 tokens per 60 s, refilled one at a time; bursting is allowed by the bucket but costs a 60 s
    # lockout when it overflows, and other apps of the merchant share it: a small burst only. An empty
    # bucket (X-Ratelimit-Remaining 0) pauses 1/rate, when the next token drips in; X-Ratelimit-Reset
    # is not used: it is the time until the bucket is FULL, not until the next request may go
    rate_budget: ClassVar[RateBudget] = RateBudget(
        requests_per_second=2.0, burst=5, remaining_header="X-Ratelimit-Remaining"
    )

    def __init__(self, context: SourceContext) -> None:
        source = context.source
        self._source = source
        self._transport = context.transport
        self.settings: PrintfulSettings = parse_settings(source.settings, source.facilities)
        self._token, self._webhook_secret = _credential(context)

    async def pull(self, previous: Validators, only: frozenset[str] | None = None) -> Snapshot | NotModified:
        wanted = covered(self._source.variants, only)
        if only is None and not wanted.catalog and not wanted.warehouse:
            raise SourceError(f"source {self._source.id}", "no source mappings: nothing to read")
        if wanted.catalog and not self.settings.regions:
            first = min(wanted.catalog)
            raise SourceError(f"source mapping '{first}'", "a catalog variant, but settings map no regions")
        if wanted.warehouse and not self.settings.warehouse_facilities:
            first = min(wanted.warehouse)
            raise SourceError(
                f"source mapping '{WAREHOUSE_PREFIX}{first}'",
                "a warehouse variant, but settings map no warehouse_facilities",
            )
        rows: list[SourceStock] = []
        if wanted.catalog:
            rows += await self._catalog(wanted.catalog, partial=only is not None)
        if wanted.warehouse:
            rows += await self._warehouse(wanted.warehouse)
        return Snapshot(merged(rows), datetime.now(UTC), Validators(), complete=only is None)

    async def _catalog(self, wanted: Mapping[int, str], *, partial: bool) -> list[SourceStock]:
        rows: list[SourceStock] = []
        missing = dict(wanted)
        query = {"selling_region_name": self.settings.region_query, "techniques": self.settings.technique}
        if not (partial and len(wanted) <= len(self.settings.products)):
            for product in self.settings.products:
                path = f"/v2/catalog-products/{product}/availability"
                entries = [item async for item in self._pages(path, query)]
                found, seen = availability_rows(entries, missing, self.settings)
                rows += found
                for number in seen:
                    missing.pop(number, None)
        for number in sorted(missing):
            path = f"/v2/catalog-variants/{number}/availability"
            body = (await self._get(path, query, missing_is=f"catalog variant {number}")).body
            entry = body.get("data") if isinstance(body, Mapping) else None
            if variant_id(entry, "body.data") != number:
                raise SourceError("body.data.catalog_variant_id", f"is not the variant asked for ({number})")
            rows += availability_rows([("body.data", entry)], {number: missing[number]}, self.settings)[0]
        return rows

    async def _warehouse(self, wanted: Mapping[int, str]) -> list[SourceStock]:
        items = [item async for item in self._pages("/v2/warehouse-products", {})]
        holders = warehouse_products_with(items, wanted)
        held = set().union(*holders.values()) if holders else set()
        for number in sorted(set(wanted) - held):  # a stale mapping: fix it rather than keep old stock
            raise SourceError(
                f"source mapping '{WAREHOUSE_PREFIX}{number}'", "no Printful warehouse product holds it"
            )
        rows: list[SourceStock] = []
        for product in sorted(holders):
            path = f"/v2/warehouse-products/{product}"
            body = (await self._get(path, {}, missing_is=f"warehouse product {product}")).body
            found, seen = warehouse_rows(body, {n: wanted[n] for n in holders[product]}, self.settings)
            if seen != holders[product]:
                lost = min(holders[product] - seen)
                raise SourceError(
                    f"{path}: body.data.warehouse_variants",
                    f"variant {lost} is listed but not in its product",
                )
            rows += found
        return rows

    async def _pages(self, path: str, query: Mapping[str, str]) -> AsyncIterator[tuple[str, Any]]:
        """Every item of a paged list, with its JSON path; the total must hold from page to page and
        the items read must add up to it (a shorter walk is a truncated answer, not fewer items)."""
        offset, expected, read = 0, None, 0
        for _ in range(MAX_PAGES):
            params = {**query, "limit": str(MAX_LIMIT), "offset": str(offset)}
            body = (await self._get(path, params, missing_is=path)).body
            where = f"{path}?offset={offset}: body"
            data, total = page_items(body, offset, where)
            if expected is not None and total != expected:
                raise SourceError(
                    f"{where}.paging.total", f"changed from {expected} to {total} during the read"
                )
            expected = total
            for i, item in enumerate(data):
                yield f"{where}.data[{i}]", item
            read += len(data)
            offset += len(data)
            if offset >= total:
                if read != total:
                    raise SourceError(f"{where}.paging.total", f"says {total}, read {read}")
                return
        raise SourceError(path, f"more than {MAX_PAGES} pages")

    async def _get(self, path: str, params: Mapping[str, str], *, missing_is: str) -> Response:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if self.settings.store_id is not None:
            headers["X-PF-Store-Id"] = self.settings.store_id
        try:
            return await self._transport.request(
                "GET", self.settings.base_url + path, params=params, headers=headers
            )
        except PermanentError as error:
            if error.status == 404:  # a mapping naming what Printful no longer has: fix the mapping
                raise SourceError(
                    missing_is, "not found at Printful (404): check the source mappings"
                ) from None
            raise

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        """`x-pf-webhook-signature`: hex HMAC-SHA256 of the raw body with the config's `secret_key`.
        The docs do not say whether the hex key is used as text or decoded to bytes; implementations
        in the wild decode it, so both are accepted (either way only the secret's holder can sign).
        With `webhook_public_key` set, the `x-pf-webhook-public-key` header must name that config."""
        secret = self._webhook_secret
        signature = (header_value(headers, SIGNATURE_HEADER) or "").strip()
        if not secret or not signature or len(signature) > 128:
            return False
        expected_key = self.settings.webhook_public_key
        if expected_key is not None and not hmac.compare_digest(
            (header_value(headers, PUBLIC_KEY_HEADER) or "").strip().encode(), expected_key.encode()
        ):
            return False
        try:
            presented = bytes.fromhex(signature)
        except ValueError:
            return False
        keys: list[bytes] = [secret.encode()]
        try:
            keys.append(bytes.fromhex(secret))
        except ValueError:
            pass  # not hex: the text is the only key
        matches = [hmac.compare_digest(presented, hmac_sha256(key, body)) for key in keys]
        return any(matches)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> SourceCallback:
        """`catalog_stock_updated` names changed catalog variants without a region: those the source
        covers are pulled. Other Printful events are acknowledged and change nothing."""
        where = "printful webhook"
        document = load_webhook_json(body, where)
        if not isinstance(document, Mapping):
            raise InputError(where, "body", "not a JSON object")
        kind = document.get("type")
        if kind != STOCK_EVENT:
            if isinstance(kind, str) and kind in OTHER_EVENTS:
                return SourceCallback()
            raise InputError(where, "body.type", f"not a Printful v2 event type ({STOCK_EVENT}, ...)")
        occurred_at = webhook_time(document, "occurred_at", "body.occurred_at")
        data = document.get("data")
        if not isinstance(data, list):
            raise InputError(where, "body.data", "missing or not a list")
        if len(data) > MAX_EVENT_ITEMS:
            raise InputError(where, "body.data", f"more than {MAX_EVENT_ITEMS} items")
        named: set[str] = set()
        for i, item in enumerate(data):
            number = item.get("catalog_variant_id") if isinstance(item, Mapping) else None
            if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
                raise InputError(
                    where, f"body.data[{i}].catalog_variant_id", "missing or not a positive integer"
                )
            named.add(str(number))
        return SourceCallback(occurred_at=occurred_at, pull_ids=frozenset(named & set(self._source.variants)))


def _credential(context: SourceContext) -> tuple[str, str | None]:
    """(API token, webhook secret or None) from the source's credential: the token alone, or JSON
    {"token", "webhook_secret"}. Errors name the credential, never a value."""
    secret = context.credential
    if secret is None:
        raise SourceError("credential", "a Printful API token is required (the source names no credential)")
    where = f"credential {secret.name!r}"
    text = secret.reveal().strip()
    if not text.startswith("{"):
        if not text:
            raise SourceError(where, "is empty")
        return text, None
    try:
        fields = secret.json()
    except CredentialError:
        raise SourceError(where, 'is neither a token nor a JSON object {"token", "webhook_secret"}') from None
    token, webhook = fields.get("token"), fields.get("webhook_secret")
    if not isinstance(token, str) or not token.strip():
        raise SourceError(where, "'token' is missing")
    if webhook is not None and (not isinstance(webhook, str) or not webhook.strip()):
        raise SourceError(where, "'webhook_secret' must be non-empty text")
    return token.strip(), webhook.strip() if webhook else None
