"""TikTok Shop (Partner API, versioned 202309 paths): translates our Observed/Change to SKU inventory.

Stock model: a count per SKU per warehouse. Reads: `POST /product/202309/inventory/search` with
`sku_ids` (at most 600 per call; `product_ids` at most 100, not used) answers per warehouse the
`available_quantity` (what Update Inventory's `quantity` sets: "in-stock inventory that can be shipped
immediately") and the `committed_quantity` held by orders (not ours to set). Writes:
`POST /product/202309/products/{product_id}/inventory/update` with the SKUs of ONE product (write unit
= product; at most 100 SKUs per product). The docs require every warehouse of a SKU in each update
("do not omit any"), so a SKU stocked in several warehouses cannot be enforced (its other counts would
be overwritten from a stale read): it is a problem, as is a SKU outside `settings.warehouse_id` when
that is set. TikTok has no unlimited stock: an unlimited target writes `in_stock_quantity`; counts are
capped at 99,999. The update answers code 0 with `data.errors[{code, message, detail.sku_id}]` for the
SKUs it refused: those fail per item (36009003 internal error: temporary), the others are confirmed.
No compare-and-set, no idempotency key: last write wins.
- status mode: unavailable → 0, available → `in_stock_quantity` (default: the store's POD quantity).
- quantity mode: the count (0 when unavailable).
External ids are "<product id>:<sku id>", both kept as text (19+ digit ids).
Every request is signed and carries `app_key`, `timestamp`, `shop_cipher`, `sign` and the
`x-tts-access-token` header (reconcilers/tiktok_auth.py, which also refreshes expired tokens in memory).
Errors come in the envelope {code, message, request_id, data}: HTTP 200 with a non-zero code is an
error (36009002 throttled → retried like a 429; credential codes → auth; others → permanent).
Rate limit: 50 requests/s per API per (app, shop), then HTTP 429 with no Retry-After; we pace at 20/s.
Webhooks: POSTed JSON {type, tts_notification_id, shop_id, timestamp, data}, signed in the
`Authorization` header = hex HMAC-SHA256(app secret, app_key + raw body). Inventory topics carry
product and SKU ids (type 27 INVENTORY_STATUS_CHANGE also a total distribution over all warehouses,
not one warehouse's count): any notification naming `data.product_id` re-reads that product's synced
SKUs (reread_products), so our own writes are recognised by what the store shows (echo, not drift);
with `settings.shop_id`, notifications of the app's other shops are ignored.
Docs vs our notes: the notes' types 68 INVENTORY_CHANGED / 71 INVENTORY_CHANGED_BY_SHOP are not in the
official webhook list read here (27, 5, 15, 16, 24 are); the notes' "rate limit unknown" is 50 QPS per
API; the notes' quantity range 0..99,999 is [1, 99,999] in the current reference, while the 2024 copy
of that page allowed 0 — 0 is still how a SKU is made unsellable, and a refusal is reported per item.
Docs: reconcilers/sources/tiktok.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, verify_hex
from reconcilers.tiktok_auth import INTERNAL, TiktokApi
from reconcilers.tiktok_inventory import (
    WAREHOUSE,
    as_observed,
    parse_external_id,
    product_unit,
    quantity_for,
    sku_errors,
    skus_by_id,
    text_id,
    update_body,
)
from reconcilers.transport import TemporaryError
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://open-api.tiktokglobalshop.com"
DEFAULT_AUTH_URL = "https://auth.tiktok-shops.com"
SEARCH_PATH = "/product/202309/inventory/search"
SIGNATURE_HEADER = "Authorization"
MAX_SKU_IDS = 600  # Inventory Search sku_ids
MAX_SKUS_PER_PRODUCT = 100  # a product has at most 100 SKUs (Update Inventory error 12052050)


class TiktokReconciler:
    """Searches inventory by SKU ids and updates one product's SKUs per call."""

    capabilities: Capabilities = Capabilities(
        platform="tiktok",
        stock_model=StockModel.QUANTITY,
        max_read_batch=MAX_SKU_IDS,
        max_write_batch=MAX_SKUS_PER_PRODUCT,
        rate_budget=RateBudget(requests_per_second=20.0, burst=10),
        webhook_scheme=f"{SIGNATURE_HEADER} hex HMAC-SHA256 of app_key + raw body (app secret); names a product",
        compare_and_set=False,
        source="partner.tiktokshop.com docv2: Update Inventory 202309, Inventory Search 202309, Sign your API "
        "request, Rate limits, Common errors, Authorization overview 202407, webhooks (read 2026-12-07)",
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.PAGE_SIZE, Refinement.BATCH_LIMIT}),
        unlimited="none: a finite count per SKU per warehouse (0..99,999); an unlimited target writes in_stock_quantity",
        write_unit=WriteUnit.PARENT_PRODUCT,
        unit_key=product_unit,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        base = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        auth = settings.base_url("auth_url", default=DEFAULT_AUTH_URL, https=True)
        warehouse = settings.get(WAREHOUSE)
        self._warehouse = (
            None if warehouse is None else settings.ident(WAREHOUSE, "a warehouse id", digits=True)
        )
        shop = settings.get("shop_id")
        self._shop_id = None if shop is None else settings.ident("shop_id", "the TikTok shop id", digits=True)
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(
            context, ["app_key", "app_secret", "access_token", "shop_cipher"], ["refresh_token"]
        )
        self._app_key, self._app_secret = str(keys["app_key"]), str(keys["app_secret"])
        self._api = TiktokApi(context.transport, base, auth + "/api/v2/token/refresh", context.store.id, keys)

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted: dict[str, tuple[str, str]] = {}  # sku id -> (product id, external id)
        for variant in variants:
            ids = parse_external_id(variant.external_id)
            if ids is not None:
                wanted[ids[1]] = (ids[0], variant.external_id)
        observed: list[Observed] = []
        for chunk in chunked(sorted(wanted), self.capabilities.max_read_batch):
            data = await self._api.post(SEARCH_PATH, {"sku_ids": list(chunk)})
            try:
                shown = skus_by_id(data)
            except ValueError as exc:
                raise TemporaryError(f"tiktok: inventory search answer: {exc}") from None
            for sku_id in chunk:
                if sku_id not in shown:
                    continue  # the SKU (or its product) is gone
                product_id, external_id = wanted[sku_id]
                owner, sku = shown[sku_id]
                if owner != product_id:
                    observed.append(_moved(external_id, owner))
                else:
                    observed.append(as_observed(external_id, sku, self._warehouse))
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        why = "external id must be '<product id>:<sku id>' (digits)"
        refused = [
            ItemFailure(c.external_id, why, permanent=True)
            for c in batch
            if not parse_external_id(c.external_id)
        ]
        valid = [(c, ids) for c in batch if (ids := parse_external_id(c.external_id)) is not None]
        if not valid:
            return ApplyResult(failed=tuple(refused))
        rows = [(ids[1], quantity_for(c, self._in_stock_quantity), self._warehouse_of(c)) for c, ids in valid]
        data = await self._api.post(
            f"/product/202309/products/{valid[0][1][0]}/inventory/update", update_body(rows)
        )
        errors = sku_errors(data)
        confirmed: list[Observed] = []
        failed = list(refused)
        for (change, (_, sku_id)), (_, quantity, warehouse) in zip(valid, rows, strict=True):
            error = errors.get(sku_id) or errors.get(None)
            if error is None:
                ref = {WAREHOUSE: warehouse} if warehouse else None
                confirmed.append(Observed(change.external_id, quantity > 0, quantity, ref))
            else:
                code, said = error
                text = f"TikTok refused the SKU (code {code}): {said}"
                failed.append(ItemFailure(change.external_id, text, permanent=code not in INTERNAL))
        return merge_results([ApplyResult(tuple(confirmed), tuple(failed))])

    def _warehouse_of(self, change: Change) -> str | None:
        """The warehouse to name: the configured one, else the one observe() saw (optional for a SKU
        with a single warehouse)."""
        seen = (change.platform_ref or {}).get(WAREHOUSE)
        return self._warehouse or (seen if text_id(seen) else None)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        signed = self._app_key.encode() + body
        return verify_hex(self._app_secret, signed, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        kind = event.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise InputError("webhook", "type", "missing or not a whole number")
        delivery = event.get("tts_notification_id")
        if delivery is not None and not (isinstance(delivery, str) and 0 < len(delivery) <= 100):
            raise InputError("webhook", "tts_notification_id", "must be text (at most 100 characters)")
        data = event.get("data")
        if not isinstance(data, dict):
            raise InputError("webhook", "data", "missing or not an object")
        occurred = _unix_time(data.get("update_time"), "data.update_time") or _unix_time(
            event.get("timestamp"), "timestamp"
        )
        product = data.get("product_id")
        if self._shop_id is not None and event.get("shop_id") != self._shop_id:
            return Notification(delivery_id=delivery, occurred_at=occurred)  # another shop of the app
        if product is None:
            return Notification(delivery_id=delivery, occurred_at=occurred)  # orders, returns, auth...
        if not text_id(product):
            raise InputError("webhook", "data.product_id", "must be a product id as text (digits)")
        return Notification(delivery_id=delivery, occurred_at=occurred, reread_products={product})


def _moved(external_id: str, owner: str) -> Observed:
    return unenforceable(external_id, f"the SKU now belongs to product {owner}: sync it under that id")


def _unix_time(value: object, field: str) -> datetime | None:
    """A unix time in seconds (TikTok's webhook clock), None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**11:
        raise InputError("webhook", field, "must be a unix time in seconds")
    return datetime.fromtimestamp(value, UTC)
