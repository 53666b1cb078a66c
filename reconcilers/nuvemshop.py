"""Nuvemshop / Tiendanube (REST API v1): translates our Observed/Change to product variant stock.

Stock model: stock lives on variants (every product has at least one). `stock` is a whole count, and
`null` means infinite (`stock_management` false): sells without a count, so it is never written by
accident — only a target that is itself unlimited writes null. Stores with multi-inventory carry
`inventory_levels[{location_id, stock}]` and `stock` becomes the total of all locations (and is
deprecated for writes: sent alone it updates the first level only). So with `settings.location_id`
we read and write that location's level; without it, a variant stocked at more than one location is
a problem (we would not know which count to own), never a guess.
- status mode: unavailable → stock 0; available → `in_stock_quantity` (default: the store's POD
  quantity). Nuvemshop has no per-variant sold-out flag: 0 is what stops selling.
- quantity mode: stock = the count (0 when unavailable).
External ids are "<product id>:<variant id>". Writes: `PATCH /products/{id}/variants` with
[{id, stock}] — the documented partial update of many variants of ONE product (write unit = product;
never PUT, which replaces the collection and deletes the variants it omits). It is all-or-nothing (422
naming the failed ids) and answers the whole updated collection, from which confirmations are read.
No compare-and-set: last write wins.
Reads: a few products one GET /products/{id} each; more, the catalog from the lowest wanted id
(`since_id`, 200 per page, `fields=id,variants`), following the Link header, until every wanted
product was seen. Rate limit: a leaky bucket of 40 requests leaking 2/s per (app, store); we pace at
2/s with a burst of 10 (other apps share the bucket) and pause when X-Rate-Limit-Remaining reads 0.
A 429 carries no Retry-After (X-Rate-Limit-Reset is ms until the bucket is empty): the shared
transport backs off. Every request needs `Authentication: bearer <token>` (not Authorization) and a
`User-Agent` naming the app and a contact, else 400: the store setting `user_agent` is required.
Webhooks (`product/updated`, also fired by our own writes) carry only {store_id, event, id} signed
with X-Linkedstore-HMAC-SHA256 = hex HMAC-SHA256 of the body (app secret): the product's synced
variants are read back (reread_products), so an echo is recognised by what the store shows.
Where the docs and our notes differ: the notes list `POST /products/{id}/variants/stock` and
`PATCH /products/stock-price` (API 2025-03) from secondary sources only; the official docs read here
document PATCH /products/{id}/variants, so that is what is used. Docs: reconcilers/sources/nuvemshop.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.nuvemshop_variants import (
    as_observed,
    numeric_id,
    parse_external_id,
    product_unit,
    stock_for,
    variant_patch,
)
from reconcilers.pagination import cursor_pages, next_link
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_signed_body
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://api.tiendanube.com/v1"
SIGNATURE_HEADER = "X-Linkedstore-HMAC-SHA256"
PAGE_SIZE = 200  # per_page maximum
MAX_VARIANTS = 1000  # per product: one PATCH can always carry a whole product
SINGLE_READS = 3  # up to this many products: one GET each beats paging through the catalog
FIELDS = "id,variants"
_PRODUCT_EVENTS = frozenset({"product/updated", "product/created"})


class NuvemshopReconciler:
    """Reads products (single GETs or a since_id scan) and PATCHes one product's variants per call."""

    capabilities: Capabilities = Capabilities(
        platform="nuvemshop",
        stock_model=StockModel.QUANTITY,
        max_read_batch=PAGE_SIZE,
        max_write_batch=MAX_VARIANTS,
        rate_budget=RateBudget(requests_per_second=2.0, burst=10, remaining_header="X-Rate-Limit-Remaining"),
        webhook_scheme=f"{SIGNATURE_HEADER} hex HMAC-SHA256 of the raw body (app secret); body names a product",
        compare_and_set=False,
        source="github.com/TiendaNube/api-docs README, product.md, product_variant.md, webhook.md; "
        "tiendanube.github.io/api-documentation guides/multi-inventory/products (read 2026-12-07)",
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.PAGE_SIZE}),
        unlimited="stock null (stock_management false): written only for an unlimited target",
        write_unit=WriteUnit.PARENT_PRODUCT,
        unit_key=product_unit,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        store_id = settings.ident("store_id", "the Nuvemshop store id (digits)", digits=True)
        self._base = str(URL(settings.base_url(default=DEFAULT_BASE_URL, https=True)) / store_id)
        agent = settings.get("user_agent")
        if not isinstance(agent, str) or not agent.strip() or not agent.isprintable() or len(agent) > 200:
            raise ConfigError(settings.key("user_agent"), "required: the app's name and a contact")
        location = settings.get("location_id")
        self._location = None if location is None else settings.ident("location_id", "a location id")
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["access_token"], ["client_secret"], plain_allowed=True)
        self._headers = {"Authentication": f"bearer {keys['access_token']}", "User-Agent": agent.strip()}
        self._client_secret = keys["client_secret"]

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted: dict[int, dict[int, str]] = {}
        for variant in variants:
            ids = parse_external_id(variant.external_id)
            if ids is not None:
                wanted.setdefault(ids[0], {})[ids[1]] = variant.external_id
        if not wanted:
            return []
        products = await self._products(set(wanted))
        observed: list[Observed] = []
        for product_id, members in wanted.items():
            shown = {v.get("id"): v for v in products.get(product_id, []) if isinstance(v, Mapping)}
            for variant_id, external_id in members.items():
                if variant_id in shown:  # absent: the variant (or product) is gone
                    observed.append(as_observed(external_id, shown[variant_id], self._location))
        return observed

    async def _products(self, wanted: set[int]) -> dict[int, list[Any]]:
        """{product id: its variants} for the wanted products the store still has."""
        if len(wanted) <= SINGLE_READS:
            found: dict[int, list[Any]] = {}
            for product_id in sorted(wanted):
                try:
                    answer = await self._get(f"{self._base}/products/{product_id}", {"fields": FIELDS})
                except PermanentError as exc:
                    if exc.status == 404:
                        continue  # the product is gone: its variants are not found
                    raise
                found.update(_variants_by_product([answer.body]))
            return found
        found = {}
        first = {"since_id": str(min(wanted) - 1), "per_page": str(self.capabilities.max_read_batch)}

        async def page(cursor: str | None) -> tuple[list[Any], str | None]:
            url, params = (
                (cursor, None) if cursor else (f"{self._base}/products", {**first, "fields": FIELDS})
            )
            try:
                answer = await self._get(url, params)
            except PermanentError as exc:
                if exc.status == 404:  # past the last page
                    return [], None
                raise
            if not isinstance(answer.body, list):
                raise TemporaryError("nuvemshop: product list answer is not a JSON list")
            return answer.body, next_link(answer.headers)

        async for products in cursor_pages(page):
            found.update(_variants_by_product(products))
            if wanted <= set(found):
                break
        return found

    async def _get(self, url: str, params: Mapping[str, str] | None) -> Any:
        return await self._transport.request("GET", url, params=params, headers=self._headers)

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        bad = [c for c in batch if parse_external_id(c.external_id) is None]
        why = "external id must be '<product id>:<variant id>'"
        refused = ApplyResult(failed=tuple(ItemFailure(c.external_id, why, permanent=True) for c in bad))
        valid = [(c, ids) for c in batch if (ids := parse_external_id(c.external_id)) is not None]
        if not valid:
            return refused
        product_id = valid[0][1][0]
        stocks = {c.external_id: stock_for(c, self._in_stock_quantity) for c, _ in valid}
        body = [variant_patch(ids[1], stocks[c.external_id], self._location) for c, ids in valid]
        response = await self._transport.request(
            "PATCH", f"{self._base}/products/{product_id}/variants", json=body, headers=self._headers
        )
        if not isinstance(response.body, list):
            raise TemporaryError("nuvemshop: PATCH answer is not the variant collection")
        shown = {v.get("id"): v for v in response.body if isinstance(v, Mapping)}
        confirmed: list[Observed] = []
        failed: list[ItemFailure] = []
        for change, (_, variant_id) in valid:
            seen = as_observed(change.external_id, shown.get(variant_id), self._location)
            wrote = stocks[change.external_id]
            if seen.problem is None and (seen.quantity == wrote or (wrote is None and seen.unlimited)):
                confirmed.append(seen)
            else:
                failed.append(
                    ItemFailure(change.external_id, "Nuvemshop answered another stock than written")
                )
        return merge_results([refused, ApplyResult(tuple(confirmed), tuple(failed))])

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._client_secret, headers, SIGNATURE_HEADER, body, encoding="hex")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        name = event.get("event")
        if not isinstance(name, str) or not name:
            raise InputError("webhook", "event", "missing or not text")
        if name not in _PRODUCT_EVENTS:
            return Notification()  # product/deleted, orders, app events: nothing to re-read here
        product = event.get("id")
        if isinstance(product, bool) or not isinstance(product, int | str) or not numeric_id(str(product)):
            raise InputError("webhook", "id", "must be a product id (digits)")
        return Notification(reread_products={str(product)})


def _variants_by_product(products: Sequence[Any]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for product in products:
        if isinstance(product, Mapping) and isinstance(product.get("id"), int):
            variants = product.get("variants")
            found[product["id"]] = variants if isinstance(variants, list) else []
    return found
