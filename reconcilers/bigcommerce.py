"""BigCommerce (REST Management API v3, Catalog + Inventory): our Observed/Change to one location's stock.

Stock: a count per (item, location); an item is a variant (product tracked per variant) or a product
(tracked by product): external ids "<product_id>:<variant_id>" or "<product_id>", matching the
product's `inventory_tracking` (else a problem naming the id to map). `settings.location_id`
defaults to 1, the default location: the only one Stencil storefronts sell from unless support
turns on aggregated stock.
- observe: per chunk one catalog read (`id:in`: inventory_tracking, availability) and one read of
  the location's items per identity kind (`variant_id:in`, `product_id:in`). quantity =
  available_to_sell (on hand - safety stock: what the storefront sells); available = that > 0 and
  `is_in_stock`. `is_in_stock` off or availability "disabled" reads unavailable, and is a problem only
  when a write would have to make it sellable. `inventory_tracking: none` sells without a count:
  unlimited, never written (the docs do not say an adjustment turns tracking on).
- apply: one `PUT /inventory/adjustments/absolute` of up to 2,000 items (documented cap), on hand =
  the count + safety stock (status mode: `in_stock_quantity`, default the POD quantity). The answer
  is a transaction id, processed asynchronously. A 422 refuses the whole call naming the item in its
  problem `title`: those fail, the rest is sent again (halved when none is named). No compare-and-set.
- rate: 150 requests/30 s per store (Pro 450: `requests_per_second` 15), shared by all apps; a 429
  has no Retry-After but X-Rate-Limit-Time-Reset-Ms and maybe X-Retry-After: the longer is waited.
  Our notes said no Retry-After-like header is documented; the docs name X-Retry-After too.
- webhooks: Standard Webhooks signatures (key: the app's client secret). Bodies carry ids only (the
  legacy scopes' `method`/`value` contradict each other in the docs): the items are re-read.
All requests go through the shared transport. Docs read 2026-12-07: reconcilers/sources/bigcommerce.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import all_failed, chunked, merge_results, run_batch
from reconcilers.bigcommerce_items import (
    BLOCKED,
    ItemKey,
    adjustment,
    as_observed,
    confirmed,
    named_in,
    page_of,
    parse_external_id,
    row_key,
    webhook_created_at,
    webhook_items,
    webhook_location,
)
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.pagination import numbered_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_standard_webhook
from reconcilers.transport import AuthError, PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_header

DEFAULT_BASE_URL = "https://api.bigcommerce.com/stores/{store_hash}/v3"
ADJUST_PATH = "/inventory/adjustments/absolute"
READ_BATCH = 250  # catalog `limit` maximum: one catalog page per observed chunk
ROWS_PER_PAGE = 1000  # inventory item reads: "limit of 1000 items for payload length"
WRITE_BATCH = 2000  # absolute adjustments: "limit of 2000 items for payload length"
SPLIT_REQUESTS = 20  # extra adjustments one apply() may spend isolating refused items
REASON = "stocksync: absolute availability from upstream inventory"
_LOCATION_SCOPE = re.compile(r"store/channel/[^/]{1,40}/inventory/product/[a-z_]{1,40}")
_ITEM_SCOPES = frozenset(
    f"store/{kind}/inventory/{what}updated" for kind in ("sku", "product") for what in ("", "order/")
)
_BAD_ID = "external id must be '<product_id>' or '<product_id>:<variant_id>'"


class BigCommerceReconciler:
    """Reads a location's inventory by id lists, writes absolute adjustments of up to 2,000 items."""

    capabilities: Capabilities = Capabilities(
        platform="bigcommerce",
        stock_model=StockModel.QUANTITY,
        max_read_batch=READ_BATCH,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(
            requests_per_second=150 / 30,
            burst=10,
            windows=(RateWindow(150, 30, aligned=False),),  # refilled 30 s after it opened, not on :00
            remaining_header="X-Rate-Limit-Requests-Left",
            reset_headers=(("X-Rate-Limit-Time-Reset-Ms", 0.001), ("X-Retry-After", 1.0)),
        ),
        webhook_scheme=(
            "Standard Webhooks: webhook-signature v1,<base64 HMAC-SHA256> of "
            "'<webhook-id>.<webhook-timestamp>.<body>' (app client secret); ids only: re-read"
        ),
        compare_and_set=False,
        source=(
            "developer.bigcommerce.com (github.com/bigcommerce/docs 24f580c, 2026-04-01): reference/"
            "inventory.v3.yml, products_catalog.v3.yml, webhooks.v3.yml; inventory-adjustments.mdx, "
            "api-rate-limits.mdx, about (response headers), webhooks https-webhook-overview.mdx, "
            "inventory-location.mdx (read 2026-12-07)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="inventory_tracking none (sells without a count; never written)",
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._store_hash = settings.ident("store_hash", "the store hash (the <hash> of stores/<hash>/v3)")
        default = DEFAULT_BASE_URL.format(store_hash=self._store_hash)
        self._api = settings.base_url(default=default, https=True)  # the token travels in a header
        self._location = settings.whole("location_id", 1)
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["access_token"], ["client_secret"], plain_allowed=True)
        self._headers = {"X-Auth-Token": str(keys["access_token"]), "Accept": "application/json"}
        secret = keys["client_secret"]
        self._webhook_key = secret.encode() if secret else None
        self._transport = context.transport

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: key for v in variants if (key := parse_external_id(v.external_id))}
        found: list[Observed] = []
        for chunk in chunked(list(wanted.items()), self.capabilities.max_read_batch):
            found += await self._observe_chunk(dict(chunk))
        return found

    async def _observe_chunk(self, wanted: Mapping[str, ItemKey]) -> list[Observed]:
        ids = ",".join(str(p) for p in sorted({k.product_id for k in wanted.values()}))
        params = {"id:in": ids, "include_fields": "inventory_tracking,availability", "limit": str(READ_BATCH)}
        products = {p.get("id"): p for p in await self._list("/catalog/products", params)}

        def tracked(key: ItemKey, how: str) -> bool:
            return products.get(key.product_id, {}).get("inventory_tracking") == how

        by_variant = {k.variant_id for k in wanted.values() if k.variant_id and tracked(k, "variant")}
        by_product = {k.product_id for k in wanted.values() if k.variant_id is None and tracked(k, "product")}
        rows = {**await self._rows("variant_id", by_variant), **await self._rows("product_id", by_product)}
        found = []
        for external_id, key in wanted.items():
            product = products.get(key.product_id)
            row = rows.get((key.product_id, key.variant_id))
            item = as_observed(external_id, key, product, row, self._location) if product else None
            if item is not None:
                found.append(item)
        return found

    async def _rows(self, kind: str, ids: set[int]) -> dict[tuple[int, int | None], dict[str, Any]]:
        """The location's inventory rows for these ids, keyed like ItemKey (product, variant or None)."""
        if not ids:
            return {}
        path = f"/inventory/locations/{self._location}/items"
        params = {f"{kind}:in": ",".join(map(str, sorted(ids))), "limit": str(ROWS_PER_PAGE)}
        rows = [(row_key(row, kind, ids), row) for row in await self._list(path, params)]
        return {key: row for key, row in rows if key is not None}

    async def _list(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        async def page(number: int) -> tuple[list[dict[str, Any]], int | None]:
            query = {**params, "page": str(number)}
            response = await self._transport.request(
                "GET", self._api + path, params=query, headers=self._headers
            )
            items, pages = page_of(response.body, path)
            # without pagination meta a short page is the last (else the next, empty one says so)
            return items, number if pages is None and len(items) < int(params["limit"]) else pages

        return [item async for items in numbered_pages(page) for item in items]

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        failed: list[ItemFailure] = []
        entries: list[tuple[Change, dict[str, Any]]] = []
        for change in unit:
            key = parse_external_id(change.external_id)
            blocked = (change.platform_ref or {}).get(BLOCKED)
            if key is None:
                failed.append(ItemFailure(change.external_id, _BAD_ID, permanent=True))
            elif blocked and change.target.available:  # a count cannot make it sellable
                failed.append(ItemFailure(change.external_id, str(blocked)[:300], problem=True))
            else:
                entries.append((change, adjustment(change, key, self._location, self._in_stock_quantity)))
        result = await self._adjust(entries, [SPLIT_REQUESTS]) if entries else ApplyResult()
        return merge_results([ApplyResult(failed=tuple(failed)), result])

    async def _adjust(
        self, entries: Sequence[tuple[Change, dict[str, Any]]], budget: list[int]
    ) -> ApplyResult:
        body = {"reason": REASON, "items": [entry for _, entry in entries]}
        try:
            await self._transport.request("PUT", self._api + ADJUST_PATH, json=body, headers=self._headers)
        except AuthError:
            raise  # the credential: run_batch stops the store's other units too
        except PermanentError as exc:
            return await self._isolate(entries, exc, budget)
        except TemporaryError as exc:  # caught here too: a resent part's outage must not lose the rest
            return all_failed([change for change, _ in entries], str(exc), permanent=False)
        return ApplyResult(tuple(confirmed(change, entry) for change, entry in entries))

    async def _isolate(
        self, entries: Sequence[tuple[Change, dict[str, Any]]], exc: PermanentError, budget: list[int]
    ) -> ApplyResult:
        """A refused adjustment wrote nothing: fail the items its title names and send the others
        again; when it names none of ours, halve the batch to find them (within the budget)."""
        named = named_in(str(exc), [entry for _, entry in entries]) if exc.status == 422 else set()
        refused = [entries[i] for i in sorted(named)] if named else entries
        others = [entry for i, entry in enumerate(entries) if i not in named] if named else []
        if not named and exc.status == 422 and len(entries) > 1 and budget[0] >= 2:
            budget[0] -= 2
            half = len(entries) // 2
            return merge_results(
                [await self._adjust(entries[:half], budget), await self._adjust(entries[half:], budget)]
            )
        results = [all_failed([change for change, _ in refused], str(exc), permanent=True)]
        if others and budget[0] >= 1:
            budget[0] -= 1
            results.append(await self._adjust(others, budget))
        elif others:
            why = f"not sent: another item of its adjustment was refused ({exc})"
            results.append(all_failed([change for change, _ in others], why[:300], permanent=False))
        return merge_results(results)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_standard_webhook(self._webhook_key, headers, body, time.time())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        payload = load_webhook_json(body)
        if not isinstance(payload, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        scope = payload.get("scope")
        if not isinstance(scope, str) or not scope:
            raise InputError("webhook", "scope", "missing or not text")
        if payload.get("producer", f"stores/{self._store_hash}") != f"stores/{self._store_hash}":
            return Notification()  # another store of the same app (one client secret signs them all)
        at_location = _LOCATION_SCOPE.fullmatch(scope) is not None
        if not at_location and scope not in _ITEM_SCOPES:
            return Notification()  # not an inventory change
        data = payload.get("data")
        if at_location and webhook_location(data) != self._location:
            return Notification()  # another location's stock: not what this store sells
        delivery, occurred = webhook_header(headers, "webhook-id"), webhook_created_at(payload)
        return Notification(
            webhook_items(data, scope), delivery_id=delivery, occurred_at=occurred, reread=True
        )
