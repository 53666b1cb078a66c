"""Shopify (Admin GraphQL API): translates our Observed/Change to inventory levels and back.

Stock model: a count per inventory item per location. A ProductVariant has one InventoryItem
(`tracked` flag) with one InventoryLevel per location; we own the named quantity "available" at the
store's one `location_id`. Status mode writes 0 for unavailable and `in_stock_quantity` (default: the
store's POD quantity) for available. Items a count cannot hold back are reported once as problems
(Observed.problem) and never written: untracked items (Shopify ignores their quantities), items not
stocked at the location (the mutation refuses them, all-or-nothing) and inventory policy CONTINUE
(keeps selling at 0). The cost of each query is learned from the shop's own `requestedQueryCost`.

It only maps shapes: every request goes through the shared transport (retries, pacing, errors) and
it never decides what to write. Documentation read 2026-11-22: reconcilers/sources/shopify.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, PacingModel, RateBudget, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import counted
from reconcilers.ratelimit import CostPointsPacer
from reconcilers.settings import StoreSettings, refined
from reconcilers.shopify_answers import (
    dig,
    error_code,
    graphql_data,
    graphql_errors,
    is_variant,
    mapped,
    observed_from_node,
    untracked,
)
from reconcilers.shopify_queries import MUTATION_COST, OBSERVE_VARIANTS, SET_AVAILABLE, observe_cost
from reconcilers.signatures import header_value, verify_signed_body
from reconcilers.transport import Response, TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_header, webhook_time

# 2026-07: stable since 2026-07-01 and supported until at least 2027-07-01, so supported throughout
# Nov 2026 with months to spare; it has the 2026-04 inventory contract this module is written for
# (mandatory changeFromQuantity + @idempotent). Change it only together with SET_AVAILABLE.
API_VERSION = "2026-07"
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_TOPIC = "inventory_levels/update"
ITEM_GID = "gid://shopify/InventoryItem/"
LOCATION_GID = "gid://shopify/Location/"


class ShopifyReconciler:
    """Reads levels with `nodes(ids:)` and writes them with `inventorySetQuantities` (compare-and-set)."""

    capabilities: Capabilities = Capabilities(
        platform="shopify",
        stock_model=StockModel.QUANTITY,
        # nodes() takes 250 ids, but 4 points each would pass the 1000-point single-query limit
        max_read_batch=200,
        max_write_batch=250,  # input arrays are capped at 250 items
        rate_budget=RateBudget(
            requests_per_second=2.0,  # unused by cost pacing; the bucket below is the budget
            model=PacingModel.COST_POINTS,
            bucket_size=1000.0,  # replaced by the shop's own throttleStatus after the first answer
            restore_rate=100.0,  # Standard plan, the lowest documented restore rate
        ),
        webhook_scheme="X-Shopify-Hmac-Sha256 base64 HMAC-SHA256 of the raw body (app client secret)",
        notification_ref="inventory_item_id",  # inventory_levels/update names the item, not the variant
        compare_and_set=True,
        refinable=frozenset({Refinement.BATCH_LIMIT}),  # cost points pace it: no request rate to set
        unlimited="untracked inventory item (tracked: false): reported as a problem, never written",
        source=(
            "shopify.dev admin-graphql inventorySetQuantities, InventoryQuantityInput, "
            "usage/implementing-idempotency, apps/build/apis/graphql-admin/rate-limits, usage/limits, "
            "apps/build/webhooks (read 2026-11-22); API " + API_VERSION
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._store_id = context.store.id
        self._transport = context.transport
        self._shop = _shop_host(settings.get("shop_domain"))
        if self._shop is None and settings.get("base_url") is None:
            raise ConfigError(settings.key("shop_domain"), "shop_domain or base_url is required")
        base = settings.base_url(default=f"https://{self._shop}")
        self._url = f"{base}/admin/api/{API_VERSION}/graphql.json"
        self._location = LOCATION_GID + settings.ident(
            "location_id", "a gid://shopify/Location/<n> id", digits=True, prefix=LOCATION_GID
        )
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["access_token"], ["client_secret"])
        self._token, self._client_secret = str(keys["access_token"]), keys["client_secret"]
        # points per unit (observed id, mutation) the shop itself reported: our documented estimate
        # is the worst case, and waiting for it on a small bucket costs seconds the shop does not need
        self._price: dict[str, float] = {}

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        observed: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            variables = {"ids": list(chunk), "locationId": self._location}
            data = await self._graphql(OBSERVE_VARIANTS, variables, len(chunk), observe_cost(len(chunk)))
            nodes = data.get("nodes")
            if not isinstance(nodes, list):
                raise TemporaryError("shopify: the nodes answer is not a list")
            observed += [observed_from_node(node) for node in nodes if is_variant(node)]
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        known = [(c, item) for c in batch if (item := _inventory_item(c)) is not None]
        why = "inventory item unknown: observe first"
        failed = [ItemFailure(c.external_id, why, True) for c in batch if _inventory_item(c) is None]
        if not known:
            return ApplyResult(failed=tuple(failed))
        sent = [c for c, _ in known]
        entries = [self._entry(c, item) for c, item in known]
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": f"gid://stocksync/Store/{quote(self._store_id, safe='')}",
                "quantities": entries,
            },
            # one key per batch, reused by the transport's retries of this very request
            "idempotencyKey": str(uuid.uuid4()),
        }
        data = await self._graphql(SET_AVAILABLE, variables, 1, MUTATION_COST)
        result = mapped(sent, entries, data.get("inventorySetQuantities"))
        return merge_results([result, ApplyResult(failed=tuple(failed))])

    def _entry(self, change: Change, item: str) -> dict[str, Any]:
        target = change.target
        if target.quantity is not None:
            quantity = max(target.quantity, 0)
        else:  # status mode: Shopify has no flag, a count of 0 is what stops selling
            quantity = self._in_stock_quantity if target.available else 0
        expected = change.expected.quantity if change.expected is not None else None
        # the key is mandatory; null (nothing observed to compare with) opts out of the check
        return {
            "inventoryItemId": item,
            "locationId": self._location,
            "quantity": quantity,
            "changeFromQuantity": expected,
        }

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._client_secret, headers, SIGNATURE_HEADER, body, encoding="base64")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        topic = header_value(headers, "X-Shopify-Topic")
        if topic is not None and topic.strip().lower() != WEBHOOK_TOPIC:
            return Notification()
        shop = header_value(headers, "X-Shopify-Shop-Domain")
        if shop is not None and self._shop is not None and shop.strip().lower() != self._shop:
            raise InputError("webhook", "X-Shopify-Shop-Domain", "names another shop")
        payload = load_webhook_json(body)
        if not isinstance(payload, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        item_id = _numeric_id(payload, "inventory_item_id")
        location = LOCATION_GID + _numeric_id(payload, "location_id")
        delivery = webhook_header(headers, "X-Shopify-Webhook-Id")
        when = webhook_time(payload, "updated_at")
        if location != self._location:
            return Notification(delivery_id=delivery, occurred_at=when)  # another location: not ours
        available = payload.get("available")
        if available is not None and (isinstance(available, bool) or not isinstance(available, int)):
            raise InputError("webhook", "available", "must be a whole number or null")
        item = ITEM_GID + item_id
        # inventory_item_id only: the engine stores this ref and resolves later notifications by each
        # of its keys, and a location id (shared by every variant) would match the wrong variant
        ref = {"inventory_item_id": item}
        seen = counted(item, available > 0, available, ref) if available is not None else untracked(item, ref)
        return Notification([seen], delivery_id=delivery, occurred_at=when)

    async def _graphql(
        self, document: str, variables: dict[str, Any], units: int, estimate: float
    ) -> dict[str, Any]:
        learned = self._price.get(document)
        response = await self._transport.request(
            "POST",
            self._url,
            json={"query": document, "variables": variables},
            headers={"X-Shopify-Access-Token": self._token, "Content-Type": "application/json"},
            cost=min(estimate, learned * units) if learned is not None else estimate,
            retry_if=self._throttled,
        )
        requested = dig(response.body, "extensions", "cost", "requestedQueryCost")
        if isinstance(requested, int | float) and not isinstance(requested, bool) and requested > 0:
            self._price[document] = float(requested) / max(units, 1)
        return graphql_data(response.body)

    def _throttled(self, response: Response) -> float | None:
        """Feed the shop's own bucket to the pacer; on THROTTLED wait until the cost fits again."""
        body = response.body if isinstance(response.body, dict) else {}
        cost = dig(body, "extensions", "cost")
        status = dig(cost, "throttleStatus")
        numbers = [dig(status, k) for k in ("currentlyAvailable", "maximumAvailable", "restoreRate")]
        pacer = self._transport.pacer
        floats = [float(n) for n in numbers if isinstance(n, int | float)]
        if len(floats) == 3 and isinstance(pacer, CostPointsPacer):
            pacer.update(currently_available=floats[0], maximum_available=floats[1], restore_rate=floats[2])
        if not any(error_code(e) == "THROTTLED" for e in graphql_errors(body)):
            return None
        requested = dig(cost, "requestedQueryCost")
        if len(floats) == 3 and isinstance(requested, int | float) and floats[2] > 0:
            return max(0.0, (float(requested) - floats[0]) / floats[2])
        return 1.0  # no throttle status given: one second restores at least the lowest plan's rate


def _inventory_item(change: Change) -> str | None:
    item = (change.platform_ref or {}).get("inventory_item_id")
    return item if isinstance(item, str) and item.startswith(ITEM_GID) else None


def _numeric_id(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InputError("webhook", name, "missing or not a numeric id")
    return str(value)


def _shop_host(shop: Any) -> str | None:
    """`mystore` or `mystore.myshopify.com` -> `mystore.myshopify.com`."""
    if not isinstance(shop, str) or not shop.strip():
        return None
    shop = shop.strip().lower().removeprefix("https://").rstrip("/")
    return shop if "." in shop else f"{shop}.myshopify.com"
