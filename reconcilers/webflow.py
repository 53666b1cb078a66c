"""Webflow (Data API v2, Ecommerce): translates our Observed/Change to SKU inventory and back.

Stock model: one inventory per SKU item (every product has a default SKU, plus one per variant), a
single location, no sellable flag: `{"inventoryType": "finite" | "infinite", "quantity": n}`; finite 0
is sold out. External ids are SKU item ids; the site's SKU collection id (one per site, which the
inventory URL needs) is the store setting `sku_collection_id`, so a webhook naming a SKU id names our
external id directly.
- status mode: available → finite `in_stock_quantity` (default the store's POD quantity), unavailable
  → finite 0; quantity mode: finite + the count. Always the absolute `quantity`, never the relative
  `updateQuantity` (a retried PATCH would add twice).
- `infinite` (sells without a count) is a problem in both modes, never written: the only way to make
  it follow upstream is switching the SKU to finite, which turns off the merchant's own choice; support
  sees the reason and the merchant switches it. So no PATCH ever sends `infinite`, and none turns an
  infinite SKU finite (observe() marks it; apply() refuses it without a request).
Cost: the API reads and writes ONE SKU per request (GET/PATCH /collections/{sku collection}/items/{sku}
/inventory); the product and SKU listings carry no inventory (checked in the v2 spec), so a full pass
costs one GET per synced SKU and one PATCH per changed SKU: at the default 60 requests/minute a pass over
600 SKUs takes ten minutes. The ecomm_inventory_changed webhook carries the SKU's whole inventory, so
drift is found without a read. The budget is per token and plan (60/min Starter/Basic, 120/min CMS,
eCommerce, Business): setting `requests_per_minute` (default 60, the documented default), paced with
no burst; `X-RateLimit-Remaining: 0` pauses the store, a 429 waits its Retry-After (typically 60 s).
No compare-and-set: last write wins. Webhooks are signed (`x-webflow-signature`, hex HMAC-SHA256 of
"<x-webflow-timestamp>:<raw body>", keyed with the OAuth app's client secret or, for a webhook a site
token created, that webhook's own secret); a timestamp more than 5 minutes away is refused.
Documentation read 2026-12-07: reconcilers/sources/webflow.md. Every request goes through the shared
transport; this module only maps shapes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, verify_hex
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webflow_inventory import (
    BAD_ID,
    INFINITE,
    BadInventoryError,
    as_observed,
    observed_from,
    patch_body,
    read_inventory,
    sku_id,
    unit_of,
)
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://api.webflow.com/v2"
SIGNATURE_HEADER = "x-webflow-signature"
TIMESTAMP_HEADER = "x-webflow-timestamp"
TRIGGER = "ecomm_inventory_changed"
DEFAULT_REQUESTS_PER_MINUTE = 60
WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000  # "older than 5 minutes may indicate a replay attack"
# changes one apply() takes; each is its own PATCH (the engine packs one per call: write unit = item)
APPLY_LIMIT = 50
_MILLIS = re.compile(r"[0-9]{1,15}")


class WebflowReconciler:
    """One GET per observed SKU, one absolute PATCH per changed SKU, webhook values taken as observed."""

    capabilities: Capabilities = Capabilities(
        platform="webflow",
        stock_model=StockModel.QUANTITY,
        max_read_batch=1,  # no bulk inventory read exists
        max_write_batch=APPLY_LIMIT,
        rate_budget=RateBudget(
            requests_per_second=DEFAULT_REQUESTS_PER_MINUTE / 60,
            burst=1,
            windows=(RateWindow(DEFAULT_REQUESTS_PER_MINUTE, 60, aligned=False),),
            remaining_header="X-RateLimit-Remaining",
        ),
        webhook_scheme=(
            f"{TRIGGER}: {SIGNATURE_HEADER} hex HMAC-SHA256 of '<{TIMESTAMP_HEADER}>:<raw body>' "
            "(OAuth client secret or the webhook's secret), timestamp within 5 minutes"
        ),
        compare_and_set=False,
        source=(
            "developers.webflow.com/data/reference/ecommerce/inventory/list, .../inventory/update, "
            "/data/reference/rate-limits, /data/reference/error-handling, /data/docs/working-with-webhooks, "
            "/data/reference/webhooks/events/ecomm-inventory-changed; OpenAPI webflow/openapi-spec "
            "openapi/v2.yml (read 2026-12-07)"
        ),
        refinable=frozenset(),  # the rate is `requests_per_minute` (Webflow's unit), read below
        unlimited="inventoryType infinite (a problem: never written, never switched to finite)",
        write_unit=WriteUnit.ITEM,
        unit_key=unit_of,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        if settings.get("requests_per_second") is not None:
            raise ConfigError(
                settings.key("requests_per_second"), "Webflow counts per minute: use 'requests_per_minute'"
            )
        self._url = settings.base_url(default=DEFAULT_BASE_URL, https=True)  # the token travels along
        collection = settings.ident("sku_collection_id", "the site's SKU collection id (List Collections)")
        if sku_id(collection) is None:  # an ObjectId like every Webflow id; it goes into every URL
            raise ConfigError(settings.key("sku_collection_id"), "must be 24 hexadecimal digits")
        self._collection_url = f"{self._url}/collections/{collection}/items"
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        per_minute = settings.positive("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE)
        assert per_minute is not None  # a default was given
        budget = replace(
            type(self).capabilities.rate_budget,
            requests_per_second=per_minute / 60,
            windows=(RateWindow(max(int(per_minute), 1), 60, aligned=False),),
        )
        self.capabilities = replace(refined(type(self).capabilities, settings), rate_budget=budget)
        keys = credential_fields(context, ["access_token"], ["webhook_secret"])
        self._headers = {"Authorization": f"Bearer {keys['access_token']}", "Accept": "application/json"}
        self._webhook_secret = keys["webhook_secret"]
        self._transport = context.transport

    def _inventory_url(self, sku: str) -> str:
        return f"{self._collection_url}/{sku}/inventory"

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        """One GET per SKU (no bulk read exists); a SKU the store does not have (404) is left out."""
        observed: list[Observed] = []
        for variant in {v.external_id: v for v in variants}.values():  # each SKU read once
            sku = sku_id(variant.external_id)
            if sku is None:
                observed.append(unenforceable(variant.external_id, BAD_ID, variant.platform_ref))
                continue
            try:
                response = await self._transport.request(
                    "GET", self._inventory_url(sku), headers=self._headers
                )
            except PermanentError as exc:
                if exc.status == 404:
                    continue  # not in the store (deleted SKU): absent, as the interface says
                if exc.status in (401, 403, 409):
                    raise  # the credential or the site (ecommerce not enabled): nothing can pass
                observed.append(unenforceable(variant.external_id, str(exc), variant.platform_ref))
                continue
            observed.append(as_observed(variant.external_id, response.body, variant.platform_ref))
        return observed

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One SKU (the write unit; the same SKU twice is two PATCHes, the last one wins)."""
        return merge_results([await self._patch(change) for change in unit])

    async def _patch(self, change: Change) -> ApplyResult:
        """An absolute PATCH, confirmed from the inventory it answers."""
        sku = sku_id(change.external_id)
        if sku is None:
            return ApplyResult(failed=(ItemFailure(change.external_id, BAD_ID, permanent=True),))
        body = patch_body(change, self._in_stock_quantity)
        response = await self._transport.request(
            "PATCH", self._inventory_url(sku), json=body, headers=self._headers
        )
        try:
            kind, quantity = read_inventory(response.body)
        except BadInventoryError as exc:
            raise TemporaryError(f"webflow: PATCH answer unreadable ({exc}); the next read tells") from None
        if kind == INFINITE or quantity != body["quantity"]:
            why = f"not applied by Webflow: it answered {kind} {quantity}, we sent finite {body['quantity']}"
            return ApplyResult(failed=(ItemFailure(change.external_id, why, permanent=True),))
        confirmed = observed_from(change.external_id, kind, quantity, change.platform_ref)
        return ApplyResult(confirmed=(confirmed,))

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self._webhook_secret:
            return False  # dashboard-made webhooks are unsigned: nothing to trust them by
        stamp = (header_value(headers, TIMESTAMP_HEADER) or "").strip()
        if not _MILLIS.fullmatch(stamp) or abs(time.time() * 1000 - int(stamp)) > WEBHOOK_TOLERANCE_MS:
            return False
        signed = stamp.encode() + b":" + body
        return verify_hex(self._webhook_secret, signed, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        trigger = event.get("triggerType")
        if not isinstance(trigger, str):
            raise InputError("webhook", "triggerType", "missing or not a string")
        if trigger != TRIGGER:
            return Notification()  # orders, CMS items...: not stock
        payload = event.get("payload")
        if not isinstance(payload, dict):
            raise InputError("webhook", "payload", "missing or not an object")
        sku = payload.get("id")
        if not isinstance(sku, str) or sku_id(sku) is None:
            raise InputError("webhook", "payload.id", "missing or not a SKU item id")
        try:
            kind, quantity = read_inventory(payload, "payload")
        except BadInventoryError as exc:
            raise InputError("webhook", f"payload.{exc.field}", exc.reason) from None
        # no delivery id and no time of change are sent: the signing time orders deliveries
        return Notification([observed_from(sku, kind, quantity)], occurred_at=_sent_at(headers))


def _sent_at(headers: Mapping[str, str]) -> datetime | None:
    """x-webflow-timestamp (Unix milliseconds: when the delivery was sent), None when absent."""
    stamp = header_value(headers, TIMESTAMP_HEADER)
    if stamp is None:
        return None
    if not _MILLIS.fullmatch(stamp.strip()):
        raise InputError("webhook", TIMESTAMP_HEADER, "not Unix milliseconds")
    try:
        return datetime.fromtimestamp(int(stamp.strip()) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise InputError("webhook", TIMESTAMP_HEADER, "out of range") from None
