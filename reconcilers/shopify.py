"""Shopify (Admin GraphQL API): translates our Observed/Change to inventory levels and back.

Stock model: a count per inventory item per location. A ProductVariant has one InventoryItem
(`tracked` flag) with one InventoryLevel per location; we own the named quantity "available" at the
store's one `location_id`. Status mode writes 0 for unavailable and `in_stock_quantity` (default: the
store's POD quantity) for available. Untracked items (or items not stocked at the location) are
reported as available=None: Shopify ignores their quantities, so there is nothing to compare.

It only maps shapes: every request goes through the shared transport (retries, pacing, errors) and
it never decides what to write. Documentation read 2026-11-22:
- https://shopify.dev/docs/api/usage/versioning - quarterly versions, each supported >= 12 months.
- https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities - absolute set;
  from 2026-04 every quantity must carry `changeFromQuantity` (null opts out of compare-and-swap),
  stale -> CHANGE_FROM_QUANTITY_STALE; `compareQuantity`/`ignoreCompareQuantity` are gone.
- https://shopify.dev/docs/api/admin-graphql/latest/input-objects/InventoryQuantityInput - the entry.
- https://shopify.dev/changelog/posts/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations
  and https://shopify.dev/docs/api/usage/implementing-idempotency - `@idempotent(key:)` required from
  2026-04; a retry with the same key and variables returns the original result.
- https://shopify.dev/docs/api/admin-graphql/latest/enums/InventorySetQuantitiesUserErrorCode - codes.
- https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits and
  https://shopify.dev/docs/api/usage/limits - calculated query cost, leaky bucket per app and store
  (Standard 100 points/s ... Plus 1000), `extensions.cost.throttleStatus` in every response, a single
  query may not exceed 1000 points, input arrays hold at most 250 items; throttled requests answer
  `errors[].extensions.code == "THROTTLED"`.
- https://shopify.dev/docs/apps/build/webhooks/subscribe/https - `X-Shopify-Hmac-Sha256`: base64
  HMAC-SHA256 of the raw body keyed with the app's client secret; topic `inventory_levels/update`
  carries `inventory_item_id`, `location_id`, `available` (null when untracked).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from daemon.store_values import out_of_range, whole_count
from reconcilers.batching import all_failed, chunked, merge_results
from reconcilers.capabilities import Capabilities, PacingModel, RateBudget, StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import CostPointsPacer
from reconcilers.shopify_queries import MUTATION_COST, OBSERVE_VARIANTS, SET_AVAILABLE, observe_cost
from reconcilers.signatures import header_value, verify_base64
from reconcilers.transport import AuthError, PermanentError, Response, TemporaryError

# 2026-07: stable since 2026-07-01 and supported until at least 2027-07-01, so supported throughout
# Nov 2026 with months to spare; it has the 2026-04 inventory contract this module is written for
# (mandatory changeFromQuantity + @idempotent). Change it only together with SET_AVAILABLE.
API_VERSION = "2026-07"
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_TOPIC = "inventory_levels/update"
VARIANT_GID = "gid://shopify/ProductVariant/"
ITEM_GID = "gid://shopify/InventoryItem/"
LOCATION_GID = "gid://shopify/Location/"
# A stale compare is a manual edit since we read: the same write can never pass, so it is permanent
# for this pass; the edit's own inventory_levels/update webhook (or the next pass) reports the drift.
_RETRYABLE_CODES = frozenset(
    {"IDEMPOTENCY_CONCURRENT_REQUEST", "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "INTERNAL_ERROR"}
)


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
        source=(
            "shopify.dev admin-graphql inventorySetQuantities, InventoryQuantityInput, "
            "usage/implementing-idempotency, apps/build/apis/graphql-admin/rate-limits, usage/limits, "
            "apps/build/webhooks (read 2026-11-22); API " + API_VERSION
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        store = context.store
        self._store_id = store.id
        self._transport = context.transport
        self._url = _endpoint(store.settings, store.id)
        self._location = _location_gid(store.settings.get("location_id"), store.id)
        self._shop = _shop_host(store.settings)
        quantity = store.settings.get("in_stock_quantity", store.rules.pod_quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ConfigError(f"stores.{store.id}.settings.in_stock_quantity", "must be a whole number > 0")
        self._in_stock_quantity = quantity
        self._token, self._client_secret = _read_credential(context)

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        observed: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            variables = {"ids": list(chunk), "locationId": self._location}
            data = await self._graphql(OBSERVE_VARIANTS, variables, observe_cost(len(chunk)))
            nodes = data.get("nodes")
            if not isinstance(nodes, list):
                raise TemporaryError("shopify: the nodes answer is not a list")
            observed += [_observed(node) for node in nodes if _is_variant(node)]
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        results = [await self._apply_batch(b) for b in chunked(changes, self.capabilities.max_write_batch)]
        return merge_results(results)

    async def _apply_batch(self, batch: Sequence[Change]) -> ApplyResult:
        entries: list[dict[str, Any]] = []
        failed: list[ItemFailure] = []
        sent: list[Change] = []
        for change in batch:
            item = _inventory_item(change)
            if item is None:
                failed.append(ItemFailure(change.external_id, "inventory item unknown: observe first", True))
                continue
            entries.append(self._entry(change, item))
            sent.append(change)
        if not sent:
            return ApplyResult(failed=tuple(failed))
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
        try:
            data = await self._graphql(SET_AVAILABLE, variables, MUTATION_COST)
            result = _mapped(sent, entries, data.get("inventorySetQuantities"))
        except PermanentError as exc:  # AuthError included: no item of this batch can pass as is
            result = all_failed(sent, str(exc), permanent=True)
        except TemporaryError as exc:
            result = all_failed(sent, str(exc), permanent=False)
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
        if not self._client_secret:
            return False
        return verify_base64(self._client_secret, body, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]:
        topic = header_value(headers, "X-Shopify-Topic")
        if topic is not None and topic.strip().lower() != WEBHOOK_TOPIC:
            return []
        shop = header_value(headers, "X-Shopify-Shop-Domain")
        if shop is not None and self._shop is not None and shop.strip().lower() != self._shop:
            raise InputError("webhook", "X-Shopify-Shop-Domain", "names another shop")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise InputError("webhook", "body", f"not valid JSON ({exc.__class__.__name__})") from None
        if not isinstance(payload, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        item_id = _numeric_id(payload, "inventory_item_id")
        location = LOCATION_GID + _numeric_id(payload, "location_id")
        if location != self._location:
            return []  # a level at another location: not ours to sync
        available = payload.get("available")
        if available is not None and (isinstance(available, bool) or not isinstance(available, int)):
            raise InputError("webhook", "available", "must be a whole number or null")
        item = ITEM_GID + item_id
        # inventory_item_id only: the engine stores this ref and resolves later notifications by each
        # of its keys, and a location id (shared by every variant) would match the wrong variant
        ref = {"inventory_item_id": item}
        if available is None:  # untracked: Shopify ignores quantities
            return [Observed(item, None, None, ref)]
        return [Observed(item, available > 0, available, ref)]

    async def _graphql(self, document: str, variables: dict[str, Any], cost: float) -> dict[str, Any]:
        response = await self._transport.request(
            "POST",
            self._url,
            json={"query": document, "variables": variables},
            headers={"X-Shopify-Access-Token": self._token, "Content-Type": "application/json"},
            cost=cost,
            retry_if=self._throttled,
        )
        return _data(response.body)

    def _throttled(self, response: Response) -> float | None:
        """Feed the shop's own bucket to the pacer; on THROTTLED wait until the cost fits again."""
        body = response.body if isinstance(response.body, dict) else {}
        cost = _dig(body, "extensions", "cost")
        status = _dig(cost, "throttleStatus")
        numbers = [_dig(status, k) for k in ("currentlyAvailable", "maximumAvailable", "restoreRate")]
        pacer = self._transport.pacer
        floats = [float(n) for n in numbers if isinstance(n, int | float)]
        if len(floats) == 3 and isinstance(pacer, CostPointsPacer):
            pacer.update(currently_available=floats[0], maximum_available=floats[1], restore_rate=floats[2])
        if not any(_code(e) == "THROTTLED" for e in _errors(body)):
            return None
        requested = _dig(cost, "requestedQueryCost")
        if len(floats) == 3 and isinstance(requested, int | float) and floats[2] > 0:
            return max(0.0, (float(requested) - floats[0]) / floats[2])
        return 1.0  # no throttle status given: one second restores at least the lowest plan's rate


def _data(body: Any) -> dict[str, Any]:
    """The `data` of a GraphQL answer; top-level errors become transport errors (no secrets)."""
    errors = _errors(body)
    if errors:
        codes = {_code(e) for e in errors}
        message = "; ".join(str(e.get("message", "error"))[:120] for e in errors[:3])
        if codes & {"ACCESS_DENIED", "UNAUTHORIZED"}:
            raise AuthError(f"shopify: {message}")
        if codes & {"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}:
            raise TemporaryError(f"shopify: {message}")
        raise PermanentError(f"shopify: {message}")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise TemporaryError("shopify: the answer has no data")
    return data


def _mapped(sent: Sequence[Change], entries: Sequence[dict[str, Any]], payload: Any) -> ApplyResult:
    """Per-item outcome: errors name their entry by index in `field`; the rest succeeded or not."""
    if not isinstance(payload, dict):
        raise TemporaryError("shopify: inventorySetQuantities answered nothing")
    by_index: dict[int, list[dict[str, Any]]] = {}
    unplaced: list[dict[str, Any]] = []
    for error in payload.get("userErrors") or []:
        index = _entry_index(error)
        (by_index.setdefault(index, []) if index is not None else unplaced).append(error)
    changed = _changed_items(payload.get("inventoryAdjustmentGroup"))
    if not by_index and not unplaced:  # success: every entry holds its target now
        return ApplyResult(confirmed=tuple(_confirmed(c, e) for c, e in zip(sent, entries, strict=True)))
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for index, (change, entry) in enumerate(zip(sent, entries, strict=True)):
        errors = by_index.get(index)
        if errors:
            reason = "; ".join(
                f"{e.get('code') or 'ERROR'}: {str(e.get('message', ''))[:160]}" for e in errors
            )
            retryable = all(e.get("code") in _RETRYABLE_CODES for e in errors)
            failed.append(ItemFailure(change.external_id, reason, permanent=not retryable))
        elif entry["inventoryItemId"] in changed:
            confirmed.append(_confirmed(change, entry))
        else:  # the mutation is all-or-nothing: refused because of another entry, worth a retry
            why = unplaced[0].get("message", "another item of the batch was refused") if unplaced else None
            failed.append(
                ItemFailure(change.external_id, f"not applied: {str(why or 'batch refused')[:160]}")
            )
    return ApplyResult(confirmed=tuple(confirmed), failed=tuple(failed))


def _confirmed(change: Change, entry: Mapping[str, Any]) -> Observed:
    quantity = int(entry["quantity"])
    return Observed(
        change.external_id, quantity > 0, quantity, {"inventory_item_id": entry["inventoryItemId"]}
    )


def _observed(node: dict[str, Any]) -> Observed:
    variant = str(node["id"])
    item = node.get("inventoryItem")
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return Observed(variant, None)
    ref: dict[str, Any] = {"inventory_item_id": item["id"]}
    if isinstance(node.get("inventoryPolicy"), str):
        ref["inventory_policy"] = node["inventoryPolicy"]  # CONTINUE keeps selling at 0: shown to support
    level = item.get("inventoryLevel")
    if item.get("tracked") is not True or not isinstance(level, dict):
        return Observed(variant, None, None, ref)  # untracked, or not stocked at our location
    quantity = next(
        (q.get("quantity") for q in level.get("quantities") or [] if q.get("name") == "available"), None
    )
    if isinstance(quantity, float) and whole_count(quantity) is None:
        return Observed(variant, None, None, ref, problem=out_of_range(quantity))
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        return Observed(variant, None, None, ref)
    return Observed(variant, quantity > 0, quantity, ref)


def _is_variant(node: Any) -> bool:
    """nodes() answers null for unknown ids and {} for ids of other types: both are 'not found'."""
    return isinstance(node, dict) and str(node.get("id", "")).startswith(VARIANT_GID)


def _inventory_item(change: Change) -> str | None:
    item = (change.platform_ref or {}).get("inventory_item_id")
    return item if isinstance(item, str) and item.startswith(ITEM_GID) else None


def _changed_items(group: Any) -> set[str]:
    changes = group.get("changes") if isinstance(group, dict) else None
    return {str(_dig(c, "item", "id")) for c in changes or [] if isinstance(c, dict)}


def _entry_index(error: Any) -> int | None:
    """userErrors name their entry as field ["input", "quantities", "<index>", ...]."""
    field = error.get("field") if isinstance(error, dict) else None
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None


def _errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _code(error: Mapping[str, Any]) -> str | None:
    code = _dig(error, "extensions", "code")
    return code if isinstance(code, str) else None


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _numeric_id(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InputError("webhook", name, "missing or not a numeric id")
    return str(value)


def _endpoint(settings: Mapping[str, Any], store_id: str) -> str:
    base = settings.get("base_url")
    if base is None:
        host = _shop_host(settings)
        if host is None:
            raise ConfigError(
                f"stores.{store_id}.settings.shop_domain", "shop_domain or base_url is required"
            )
        base = f"https://{host}"
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise ConfigError(f"stores.{store_id}.settings.base_url", "must be an http(s) URL")
    return f"{base.rstrip('/')}/admin/api/{API_VERSION}/graphql.json"


def _shop_host(settings: Mapping[str, Any]) -> str | None:
    """`mystore` or `mystore.myshopify.com` -> `mystore.myshopify.com`."""
    shop = settings.get("shop_domain")
    if not isinstance(shop, str) or not shop.strip():
        return None
    shop = shop.strip().lower().removeprefix("https://").rstrip("/")
    return shop if "." in shop else f"{shop}.myshopify.com"


def _location_gid(value: Any, store_id: str) -> str:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    number = text.removeprefix(LOCATION_GID)
    if not number.isdigit():
        raise ConfigError(
            f"stores.{store_id}.settings.location_id", "required: a gid://shopify/Location/<n> id"
        )
    return LOCATION_GID + number


def _read_credential(context: ReconcilerContext) -> tuple[str, str | None]:
    """JSON {"access_token", "client_secret"}; errors name the credential and store, never the value."""
    secret = context.credential
    where = f"credential {secret.name!r} for store {context.store.id}"
    parsed = secret.json()
    token, client_secret = parsed.get("access_token"), parsed.get("client_secret")
    if not isinstance(token, str) or not token:
        raise CredentialError(f"{where}: 'access_token' is missing")
    if client_secret is not None and not isinstance(client_secret, str):
        raise CredentialError(f"{where}: 'client_secret' must be a string")
    return token, client_secret or None
