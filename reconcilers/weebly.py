"""Weebly (legacy Weebly Developer Platform Store API v1): translates our Observed/Change to SKU inventory.

Which sellers: sites still on the Weebly platform whose store is read and written through the Weebly
Store API (api.weebly.com, an app installed from the Weebly App Center). Sellers moved to Square Online
manage catalog and inventory in Square: they use platform "square", not this module.

Stock model: a product is an array of SKUs (one per combination of option choices; a product without
options has one); each SKU has its own integer `inventory`; `inventory: null` means not tracked (the
SKU sells without a count: Observed.unlimited, never given a count except by a write that means one).
External ids are "<product_id>:<product_sku_id>" (a SKU id is unique only within its product).
- quantity mode: `{"inventory": n}` (0 when unsellable).
- status mode: unavailable → 0; available → `in_stock_quantity` (default the store's POD quantity),
  except an untracked SKU, which already sells and is left untracked (no request).
Writes: `PATCH /user/sites/{site}/store/products/{product}/skus/{sku}` with `inventory` only — PATCH is
the documented partial update; PUT replaces the resource and resets every unnamed field to its default,
so it is never used. One SKU per request (no batch endpoint); the answer is the SKU, whose `inventory`
confirms the write. No compare-and-set: last write wins.
Reads: `GET .../store/products/{product}/skus` per product with synced SKUs (its list view carries
`inventory`), `limit=200` (the documented maximum; default 25) and `page` from 1, pages counted from
`X-Resultset-Total`; a 404 leaves that product's SKUs out (absent).
Auth: the OAuth access token in `X-Weebly-Access-Token`, `Accept: application/vnd.weebly.v1+json`;
scopes read:store-catalog and write:store-catalog.
Rate limits: none documented by Weebly (a third-party summary claims 5,000/hour per token; not in
Weebly's docs): 1 request/s by default (`requests_per_second`), 429 + Retry-After honoured by the
transport. Error bodies are not documented either (the transport keeps whatever message they carry).
Webhooks (declared in the app manifest: store.product.update/create/delete): the body carries `hmac`
= hex HMAC-SHA256 with the app's secret key over compact JSON of client_id, client_version, event,
timestamp, data in that order (docs "Receive Webhooks"; both PHP- and Node-style escaping accepted).
The data names only the product, so it is re-read (Notification.reread_products); no delivery id
is sent; `timestamp` is the platform time. Our own PATCH comes back as store.product.update: the
re-read finds what we applied, which is not drift.
Docs vs our notes: the notes had auth header, SKU field name and pagination to verify: the docs
confirm `X-Weebly-Access-Token`, SKU `inventory` (null when untracked, from the docs' examples) and
`page`/`limit` (max 200) with X-Resultset-* headers; the notes' "12 retries over 48 h" stands.
Documentation read 2026-12-07: reconcilers/sources/weebly.md. Every request goes through the shared
transport; this module only maps shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.pagination import numbered_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, verify_hex
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json
from reconcilers.weebly_skus import (
    BAD_ID,
    PRODUCT_EVENTS,
    as_observed,
    event_fields,
    item_unit,
    patch_body,
    product_of_item,
    signed_messages,
    target_of,
    untracked_kept,
)

DEFAULT_BASE_URL = "https://api.weebly.com/v1"
ACCEPT = "application/vnd.weebly.v1+json"
TOKEN_HEADER = "X-Weebly-Access-Token"
TOTAL_HEADER = "X-Resultset-Total"
PAGE_LIMIT = 200  # `limit` maximum of list endpoints (default 25)
WRITE_BATCH = 50  # changes per apply() call; each SKU is still its own PATCH
DEFAULT_REQUESTS_PER_SECOND = 1.0  # undocumented: conservative, refinable
MAX_PAGES = 100  # a product with more than 20,000 SKUs would be a broken answer


class WeeblyReconciler:
    """Reads the SKU list of each product with synced SKUs; writes one partial PATCH per SKU."""

    capabilities: Capabilities = Capabilities(
        platform="weebly",
        stock_model=StockModel.QUANTITY,
        max_read_batch=PAGE_LIMIT,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(requests_per_second=DEFAULT_REQUESTS_PER_SECOND, burst=2),
        webhook_scheme=(
            "body field hmac: hex HMAC-SHA256 (app secret key) of compact JSON {client_id, client_version, "
            "event, timestamp, data}; store.product.* re-read the named product"
        ),
        compare_and_set=False,
        source=(
            "dev.weebly.com pf_apis_about (versions, verbs, pagination), pf_api_products, pf_api_product_sku, "
            "pf_wh_webhooks, pf_wh_store (sources robinwhitmore/jekylltechdocs _includes/custom/shared); "
            "Weebly/php-webhook-client and node-webhook-client (hmac check), read 2026-12-07"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="inventory: null (not tracked); never sent by us",
        write_unit=WriteUnit.ITEM,
        unit_key=item_unit,
        product_key=product_of_item,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._site_id = settings.ident("site_id", "the Weebly site id (digits)", digits=True)
        base = settings.base_url(default=DEFAULT_BASE_URL, https=True)  # the token travels along
        self._products_url = f"{base}/user/sites/{self._site_id}/store/products"
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["access_token"], ["client_secret"], plain_allowed=True)
        self._headers = {TOKEN_HEADER: str(keys["access_token"]), "Accept": ACCEPT}
        self._client_secret = keys["client_secret"]
        self._transport = context.transport

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        observed: list[Observed] = []
        wanted: dict[str, dict[str, SyncedVariant]] = {}  # product id -> SKU id -> variant
        for variant in {v.external_id: v for v in variants}.values():
            target = target_of(variant.external_id)
            if target is None:
                observed.append(unenforceable(variant.external_id, BAD_ID, variant.platform_ref))
                continue
            wanted.setdefault(target[0], {})[target[1]] = variant
        for product, skus in wanted.items():
            found = await self._skus(product)
            for sku_id, variant in skus.items():
                if sku_id in found:
                    observed.append(as_observed(variant.external_id, found[sku_id]))
        return observed

    async def _skus(self, product: str) -> dict[str, Any]:
        """Every SKU of one product by product_sku_id ({} when the product is gone)."""
        found: dict[str, Any] = {}
        url = f"{self._products_url}/{product}/skus"

        async def fetch(page: int) -> tuple[list[Any], int | None]:
            if page > MAX_PAGES:
                raise TemporaryError(f"weebly: product {product} answered more than {MAX_PAGES} SKU pages")
            params = {"limit": str(PAGE_LIMIT), "page": str(page)}
            response = await self._transport.request("GET", url, params=params, headers=self._headers)
            if not isinstance(response.body, list):
                raise TemporaryError("weebly: SKU list answer is not a JSON array")
            return response.body, _pages(response.headers, len(response.body))

        try:
            async for page in numbered_pages(fetch):
                for sku in page:
                    if isinstance(sku, Mapping) and sku.get("product_sku_id") is not None:
                        found[str(sku["product_sku_id"])] = sku
        except PermanentError as exc:
            if exc.status == 404:  # the product is gone: none of its SKUs is found
                return {}
            raise
        return found

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One write unit = one SKU = one partial PATCH (run_batch maps request failures)."""
        [change] = unit
        target = target_of(change.external_id)
        if target is None:
            return ApplyResult(failed=(ItemFailure(change.external_id, BAD_ID, permanent=True),))
        body = patch_body(change, self._in_stock_quantity)
        if body is None:  # already sells untracked: nothing to write
            return ApplyResult(confirmed=(untracked_kept(change),))
        product, sku = target
        url = f"{self._products_url}/{product}/skus/{sku}"
        response = await self._transport.request("PATCH", url, json=body, headers=self._headers)
        answer = response.body
        shown = answer.get("inventory") if isinstance(answer, Mapping) else None
        if isinstance(shown, bool) or shown != body["inventory"]:
            why = (
                f"not applied by Weebly: it answered inventory {str(shown)[:20]}, we sent {body['inventory']}"
            )
            return ApplyResult(failed=(ItemFailure(change.external_id, why),))
        return ApplyResult(confirmed=(as_observed(change.external_id, answer),))

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """The `hmac` inside the body over the five documented fields (no header carries a signature)."""
        if not self._client_secret:
            return False
        try:
            event = load_webhook_json(body)
        except InputError:
            return False
        presented = event.get("hmac") if isinstance(event, dict) else None
        if not isinstance(presented, str) or len(presented) != 64:
            return False
        return any(verify_hex(self._client_secret, m, presented) for m in signed_messages(event))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        fields = event_fields(load_webhook_json(body), self._site_id)
        if fields is None:
            return Notification()  # another site's event (one app callback URL serves every site)
        name, when, product = fields
        if name not in PRODUCT_EVENTS:
            return Notification()  # orders, carts, coupons...: a sale's stock change is a product update
        if product is None:
            return Notification(reread=True, occurred_at=when)  # names no product: re-read the store
        # no stock in the body: re-read the product's synced SKUs (no delivery id is sent)
        return Notification(reread_products={product}, occurred_at=when)


def _pages(headers: Mapping[str, str], count: int) -> int | None:
    """Pages of the list from X-Resultset-Total (None: not sent, so a short page ends it)."""
    total = (header_value(headers, TOTAL_HEADER) or "").strip()
    if total.isascii() and total.isdigit() and len(total) <= 9:
        return max(1, math.ceil(int(total) / PAGE_LIMIT))
    return None if count >= PAGE_LIMIT else 0
