"""Magento Open Source / Adobe Commerce 2.4 with Inventory Management (MSI), REST API V1.

Stock model: an MSI source item per (sku, source) holds `quantity` and `status` (1 in, 0 out). We
own the source item of ONE source (setting `source_code`, default "default"); external ids are SKUs.
- quantity mode: the count, status 1 when above 0, else 0.
- status mode: unavailable → 0 and status 0; available → status 1 with the count the store shows,
  else `in_stock_quantity` (default: the store's POD quantity).
Shoppers see the stock's salable quantity: the in-stock items of every source linked to it, minus
reservations (orders not yet shipped) and the out-of-stock threshold. It moves with every order, so
we read our source item, never it: a pending reservation is not drift. Other sources of the stock
add their quantities (ours only is held); a source linked to no stock makes its items problems.
Manage Stock = No (unlimited), allowed backorders (sell below 0) and a sellable count the threshold
(`min_qty`) would hide are problems. They live on the CatalogInventory stock item, which the product
list documents but leaves out on 2.3/2.4 (magento/magento2#36533): then `GET /V1/stockItems/{sku}`.
Reads per chunk: products (sku `in`), stock items the list lacks, source items (sku `in` AND
source_code `eq`). Writes: `POST /V1/inventory/source-items`, absolute, quantity and status always
both; validated as a whole (a 400 saves nothing), so a refused batch is resent item by item. Batch:
20 (Web API input limits' default when a store enables them), `batch_limit` raises it. No
compare-and-set. No documented rate limit: a pacer (`requests_per_second`); a proxy's 429 +
Retry-After is honoured by the transport. Magento Open Source sends no webhooks (Adobe Commerce's
RSA-signed I/O Events and webhooks are not supported): drift is found by full passes, and
verify_webhook/parse_webhook refuse. Auth: an integration access token as a bearer token.
Docs vs our notes (the docs win): error `parameters` are an object for named placeholders; the admin
token lasts 4 h (unused); the docs call quantity and status optional where our errata says a missing
status fails validation: both are always sent. Read 2026-12-07: reconcilers/sources/magento.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import all_failed, chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.magento_items import (
    COMMA,
    PRODUCT_FIELDS,
    as_observed,
    as_written,
    by_sku,
    criteria,
    entry_for,
    links_of,
    listed_stock_item,
    refused_sku,
    threshold_problem,
    unlinked,
)
from reconcilers.observations import unenforceable
from reconcilers.pagination import numbered_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.transport import AuthError, PermanentError, TemporaryError

API_VERSION = "V1"
INPUT_LIST_LIMIT = 20  # Web API input limits: documented default list size for synchronous requests
PAGE_SIZE = 100  # at most 300 per page when input limits are on; 100 SKUs keep the query string short
DEFAULT_REQUESTS_PER_SECOND = 4.0  # nothing documented: PHP-FPM workers are the real limit
# single-item requests one apply() may spend finding the items a 400 refused
ISOLATE_REQUESTS = 25
NO_WEBHOOKS = (
    "Magento sends no store notifications to stocksync (Open Source has no webhooks): "
    "drift is found by full passes"
)


class MagentoReconciler:
    """Reads source items at one source by SKU list, writes them with one POST per batch."""

    capabilities: Capabilities = Capabilities(
        platform="magento",
        stock_model=StockModel.BOTH,
        max_read_batch=PAGE_SIZE,
        max_write_batch=INPUT_LIST_LIMIT,
        rate_budget=RateBudget(requests_per_second=DEFAULT_REQUESTS_PER_SECOND, burst=1),
        webhook_scheme=None,
        compare_and_set=False,
        source=(
            "developer.adobe.com/commerce/webapi rest/inventory/manage-source-items, "
            "get-started/api-security (input limiting), get-started/authentication, "
            "admin-schema-2.4.9.yaml (read 2026-12-07)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT, Refinement.PAGE_SIZE}),
        unlimited="Manage Stock = No (stock_item.manage_stock false): a problem, never written",
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        base = settings.base_url(https=True).removesuffix("/" + API_VERSION)
        self._api = f"{base}/{API_VERSION}"  # base: https://<host>/rest/<store code>
        self._source = (
            "default"
            if settings.get("source_code") is None
            else settings.ident("source_code", "an MSI source code")
        )
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        token = credential_fields(context, ["access_token"], plain_allowed=True)["access_token"]
        self._headers = {"Authorization": f"Bearer {token}"}
        self._linked: bool | None = None  # is our source linked to a stock? asked once per reconciler

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        observed: list[Observed] = []
        readable: list[str] = []
        for variant in variants:
            sku = variant.external_id
            if refused_sku(sku) is not None:
                continue  # no product can have it: not in the store
            if "," in sku:
                observed.append(unenforceable(sku, COMMA))
            else:
                readable.append(sku)
        for chunk in chunked(readable, self.capabilities.max_read_batch):
            products = by_sku(await self._search("products", chunk, fields=PRODUCT_FIELDS))
            found = [sku for sku in chunk if sku.lower() in products]  # the rest is not in the store
            if not found:
                continue
            if self._linked is None:
                self._linked = await self._source_is_linked()
            if not self._linked:  # writes there would change nothing shoppers see
                observed += [unlinked(sku, self._source) for sku in found]
                continue
            stock_items = {sku: await self._stock_item(sku, products[sku.lower()]) for sku in found}
            items = by_sku(await self._search("inventory/source-items", found, source=True))
            observed += [
                as_observed(
                    sku, products[sku.lower()], stock_items[sku], items.get(sku.lower()), self._source
                )
                for sku in found
            ]
        return observed

    async def _stock_item(self, sku: str, product: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Manage Stock, backorders and the threshold of one product: from the product list when it
        carries them, else `GET /V1/stockItems/{sku}` (one request per SKU: the documented read)."""
        listed = listed_stock_item(product)
        if listed is not None:
            return listed
        url = f"{self._api}/stockItems/{quote(sku, safe='')}"
        try:
            response = await self._transport.request("GET", url, headers=self._headers)
        except PermanentError as exc:
            if isinstance(exc, AuthError) or exc.status != 404:
                raise
            return None  # no stock item (deleted meanwhile): the source item alone tells
        return response.body if isinstance(response.body, dict) else None

    async def _source_is_linked(self) -> bool:
        """Whether our source belongs to a stock; True when the store will not say (the integration
        lacks the stocks resource, or no such route): then items are read and written as usual."""
        try:
            links = await self._get("inventory/stock-source-links", links_of(self._source))
        except PermanentError as exc:
            if exc.status in (401, 403, 404):
                return True
            raise
        return bool(links.get("total_count") or links["items"])

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One search answer ({items, search_criteria, total_count})."""
        response = await self._transport.request(
            "GET", f"{self._api}/{path}", params=params, headers=self._headers
        )
        body = response.body
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise TemporaryError(f"magento: GET /{API_VERSION}/{path} did not answer a search result")
        return body

    async def _search(
        self, path: str, skus: Sequence[str], *, source: bool = False, fields: str | None = None
    ) -> list[Any]:
        size = self.capabilities.max_read_batch

        async def page(number: int) -> tuple[list[Any], int | None]:
            params = criteria(skus, self._source if source else None, size, number)
            if fields is not None:
                params["fields"] = fields
            body = await self._get(path, params)
            total = body.get("total_count")
            # asking past the last page repeats it on some versions: total_count says when to stop
            pages = math.ceil(total / size) if isinstance(total, int) and not isinstance(total, bool) else 1
            return body["items"], pages

        return [item async for items in numbered_pages(page) for item in items]

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        refused: list[ItemFailure] = []
        entries: list[tuple[Change, dict[str, Any]]] = []
        for change in unit:
            entry = entry_for(change, self._source, self._in_stock_quantity)
            if (why := refused_sku(change.external_id)) is not None:  # Magento's SKU validator refuses it
                refused.append(ItemFailure(change.external_id, why, permanent=True))
            elif (why := threshold_problem(change, entry)) is not None:
                refused.append(ItemFailure(change.external_id, why, problem=True))
            else:
                entries.append((change, entry))
        results = [ApplyResult(failed=tuple(refused))]
        if entries:
            try:
                results.append(await self._save(entries))
            except PermanentError as exc:
                if isinstance(exc, AuthError) or exc.status != 400 or len(entries) == 1:
                    raise
                results.append(await self._isolate(entries))  # nothing was saved: find the bad items
        return merge_results(results)

    async def _save(self, entries: Sequence[tuple[Change, dict[str, Any]]]) -> ApplyResult:
        body = {"sourceItems": [entry for _, entry in entries]}
        await self._transport.request(
            "POST", f"{self._api}/inventory/source-items", json=body, headers=self._headers
        )
        return ApplyResult(confirmed=tuple(as_written(change, entry) for change, entry in entries))

    async def _isolate(self, entries: Sequence[tuple[Change, dict[str, Any]]]) -> ApplyResult:
        results: list[ApplyResult] = []
        for index, (change, entry) in enumerate(entries):
            if index >= ISOLATE_REQUESTS:
                why = "not sent: the batch was refused and the per-item retry budget is spent"
                results.append(all_failed([c for c, _ in entries[index:]], why, permanent=False))
                break
            try:
                results.append(await self._save([(change, entry)]))
            except AuthError:
                raise
            except PermanentError as exc:
                results.append(all_failed([change], str(exc), permanent=True))
            except TemporaryError as exc:
                results.append(all_failed([change], str(exc), permanent=False))
        return merge_results(results)

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # nothing to verify against: no Magento notification is ever accepted

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise InputError("webhook", "body", NO_WEBHOOKS)
