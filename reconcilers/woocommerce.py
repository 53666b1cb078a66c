"""WooCommerce (REST API wc/v3): translates our Observed/Change to product stock fields and back.

Stock model: every simple product and variation has `stock_status` (instock | outofstock |
onbackorder, which is sellable) and, when `manage_stock` is on, a `stock_quantity`. External ids are
"<product_id>" or "<product_id>:<variation_id>" (variations only exist under their parent, so the
write unit is the parent product). With managed stock WooCommerce *derives* stock_status on every
save (above the no-stock threshold → instock, else onbackorder if backorders are allowed, else
outofstock), so writes for managed items set the quantity, and "unavailable" also sets backorders
"no" so the storefront really stops selling.
- quantity mode: manage_stock true + stock_quantity (+ the matching stock_status, + backorders "no"
  when unsellable); a variation managed by its parent then manages its own count. A count the
  shop's threshold derives "out of stock" is a problem (reported, not rewritten every pass).
- status mode: unmanaged items get stock_status instock/outofstock; managed items get stock_quantity
  (`in_stock_quantity`, default the store's POD quantity) or 0 + backorders "no". Stock managed by
  the parent (manage_stock "parent") is a problem: writing it would change every sibling's stock.
No compare-and-set: last write wins. Confirmations are built from the objects the batch answers
with, so a write the store overrode is a failure, not a success. Every request goes through the
shared transport. Documentation read 2026-11-23: reconcilers/sources/woocommerce.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from yarl import URL

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.pagination import numbered_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, verify_signed_body
from reconcilers.transport import TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_header, webhook_time
from reconcilers.woocommerce_objects import (
    OUT_OF_STOCK_AT,
    SELLABLE,
    Target,
    as_observed,
    mapped,
    parent_unit,
    target_of,
    threshold_problem,
    woo_id,
)

API_PATH = "/wp-json/wc/v3"  # the one place the API version is pinned
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
PAGE_SIZE = 100  # per_page maximum
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit default
DEFAULT_REQUESTS_PER_SECOND = 2.0
FIELDS = "id,parent_id,type,manage_stock,stock_quantity,stock_status,backorders"
_PRODUCT_TOPICS = frozenset({"product.updated", "product.created", "product.restored"})
_PING = re.compile(rb"\s*webhook_id=\d+\s*")


class WooCommerceReconciler:
    """Reads with `include=` list filters, writes with the /batch endpoints (100 objects each)."""

    capabilities: Capabilities = Capabilities(
        platform="woocommerce",
        stock_model=StockModel.BOTH,
        max_read_batch=PAGE_SIZE,
        max_write_batch=BATCH_LIMIT,
        rate_budget=RateBudget(requests_per_second=DEFAULT_REQUESTS_PER_SECOND, burst=1),
        webhook_scheme="X-WC-Webhook-Signature base64 HMAC-SHA256 of the raw body (webhook secret)",
        compare_and_set=False,
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="manage_stock false with stock_status instock (no count)",
        write_unit=WriteUnit.PARENT_PRODUCT,
        unit_key=parent_unit,
        source=(
            "woocommerce.github.io/woocommerce-rest-api-docs #authentication #pagination "
            "#list-all-products #list-all-product-variations #batch-update-products #webhooks; core "
            "class-wc-rest-controller.php check_batch_limit/batch_items, class-wc-webhook.php, "
            "abstract-wc-product.php validate_props (read 2026-11-23); API " + API_PATH
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._transport = context.transport
        self._api = settings.base_url(https=True) + API_PATH  # consumer keys travel as HTTP Basic
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["consumer_key", "consumer_secret"], ["webhook_secret"])
        self._keys = _Keys(str(keys["consumer_key"]), str(keys["consumer_secret"]))
        self._webhook_secret = keys["webhook_secret"]

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {t for t in (target_of(v.external_id) for v in variants) if t is not None}
        simple = sorted(p for p, v in wanted if v is None)
        by_parent: dict[int, list[int]] = {}
        for product, variation in sorted(wanted, key=lambda t: (t[0], t[1] or 0)):
            if variation is not None:
                by_parent.setdefault(product, []).append(variation)
        objects: list[tuple[int | None, dict[str, Any]]] = []
        for chunk in chunked(simple, PAGE_SIZE):
            objects += [(None, o) for o in await self._list(f"{self._api}/products", chunk)]
        for parent, ids in by_parent.items():
            url = f"{self._api}/products/{parent}/variations"
            for chunk in chunked(ids, PAGE_SIZE):
                objects += [(parent, o) for o in await self._list(url, chunk)]
        observed = [as_observed(o, parent) for parent, o in objects]
        # only what was asked for: a store may answer extra or differently-typed objects
        return [o for o in observed if target_of(o.external_id) in wanted]

    async def _list(self, url: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        async def page(number: int) -> tuple[list[dict[str, Any]], int | None]:
            params = {
                "include": ",".join(map(str, ids)),
                "per_page": str(PAGE_SIZE),
                "page": str(number),
                "_fields": FIELDS,
            }
            response = await self._transport.request("GET", url, params=params, auth=self._keys.basic())
            if not isinstance(response.body, list):
                raise TemporaryError(f"woocommerce: GET {URL(url).path} did not answer a list")
            total = response.headers.get("X-WP-TotalPages")
            items = [o for o in response.body if isinstance(o, dict)]
            return items, woo_id(total.strip()) if total is not None else None

        return [item async for items in numbered_pages(page) for item in items]

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One write unit: simple products, or the variations of one parent."""
        entries: list[tuple[Change, dict[str, Any]]] = []
        failed: list[ItemFailure] = []
        for change in unit:
            target = target_of(change.external_id)
            entry = self._entry(change, target) if target is not None else _BAD_ID
            if isinstance(entry, ItemFailure):
                failed.append(replace(entry, external_id=change.external_id))
            else:
                entries.append((change, entry))
        results = [ApplyResult(failed=tuple(failed))]
        if entries:
            parent = target_of(entries[0][0].external_id)
            assert parent is not None  # refused above otherwise
            results.append(await self._write(parent[0] if parent[1] is not None else None, entries))
        return merge_results(results)

    def _entry(self, change: Change, target: Target) -> dict[str, Any] | ItemFailure:
        """The absolute update for one item (never a delta: a retried batch writes the same values)."""
        entry: dict[str, Any] = {"id": target[1] if target[1] is not None else target[0]}
        wanted = change.target
        managed = (change.platform_ref or {}).get("manage_stock")
        if wanted.quantity is not None:
            quantity = max(wanted.quantity, 0)
            sellable = wanted.available and quantity > 0
            derived_out = (change.platform_ref or {}).get(OUT_OF_STOCK_AT)
            if sellable and isinstance(derived_out, int) and quantity <= derived_out:
                return ItemFailure(change.external_id, threshold_problem(quantity), problem=True)
            entry.update(manage_stock=True, stock_quantity=quantity)
        elif managed == "parent":
            why = "stock is managed by the parent product (manage_stock=parent): use quantity mode"
            return ItemFailure(change.external_id, why, problem=True)
        elif managed is True:
            sellable = wanted.available
            entry["stock_quantity"] = self._in_stock_quantity if sellable else 0
        else:
            entry["stock_status"] = "instock" if wanted.available else "outofstock"
            return entry
        entry["stock_status"] = "instock" if sellable else "outofstock"
        if not sellable:  # with backorders allowed, 0 would derive "onbackorder": still sellable
            entry["backorders"] = "no"
        return entry

    async def _write(self, parent: int | None, chunk: Sequence[tuple[Change, dict[str, Any]]]) -> ApplyResult:
        url = (
            f"{self._api}/products/batch"
            if parent is None
            else f"{self._api}/products/{parent}/variations/batch"
        )
        response = await self._transport.request(
            "POST", url, json={"update": [entry for _, entry in chunk]}, auth=self._keys.basic()
        )
        return mapped(chunk, parent, response.body)

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        signature = header_value(headers, SIGNATURE_HEADER)
        if signature is None and _is_ping(body):
            return True  # the unsigned creation ping carries nothing but the webhook id
        return verify_signed_body(self._webhook_secret, headers, SIGNATURE_HEADER, body, encoding="base64")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        if header_value(headers, SIGNATURE_HEADER) is None and _is_ping(body):
            return Notification()
        topic = (header_value(headers, "X-WC-Webhook-Topic") or "product.updated").strip().lower()
        if topic not in _PRODUCT_TOPICS:
            return Notification()  # deletions carry only an id; other resources are not stock
        payload = load_webhook_json(body)
        if not isinstance(payload, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        _numeric(payload, "id")
        parent = _numeric(payload, "parent_id") if payload.get("type") == "variation" else None
        status = payload.get("stock_status")
        if status is not None and status not in SELLABLE:
            raise InputError("webhook", "stock_status", "must be instock, outofstock or onbackorder")
        # date_modified_gmt: when the shop saved the object (a re-delivery repeats it)
        when = webhook_time(payload, "date_modified_gmt", naive_is_utc=True)
        delivery = webhook_header(headers, "X-WC-Webhook-Delivery-ID")
        return Notification([as_observed(payload, parent)], delivery_id=delivery, occurred_at=when)


_BAD_ID = ItemFailure(
    "", "external id must be '<product_id>' or '<product_id>:<variation_id>'", permanent=True
)


def _numeric(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError("webhook", name, "missing or not a positive integer id")
    return value


def _is_ping(body: bytes) -> bool:
    return _PING.fullmatch(body) is not None


class _Keys:
    """The consumer key pair; built into a BasicAuth per request so no long-lived repr shows it."""

    __slots__ = ("_key", "_secret")

    def __init__(self, key: str, secret: str) -> None:
        self._key, self._secret = key, secret

    def basic(self) -> aiohttp.BasicAuth:
        return aiohttp.BasicAuth(self._key, self._secret)

    def __repr__(self) -> str:
        return "_Keys(<redacted>)"
