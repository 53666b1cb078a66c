"""Reading Shopify's GraphQL answers (pure: no I/O): top-level errors, per-entry userErrors of
inventorySetQuantities, and the few nested fields the reconciler needs. See reconcilers/shopify.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import ApplyResult, Change, ItemFailure, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted, unenforceable
from reconcilers.transport import AuthError, PermanentError, TemporaryError

# A stale compare is a manual edit since we read: the same write can never pass, so it is permanent
# for this pass; the edit's own inventory_levels/update webhook (or the next pass) reports the drift.
_RETRYABLE_CODES = frozenset(
    {"IDEMPOTENCY_CONCURRENT_REQUEST", "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "INTERNAL_ERROR"}
)


def graphql_data(body: Any) -> dict[str, Any]:
    """The `data` of a GraphQL answer; top-level errors become transport errors (no secrets)."""
    errors = graphql_errors(body)
    if errors:
        codes = {error_code(e) for e in errors}
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


def mapped(sent: Sequence[Change], entries: Sequence[dict[str, Any]], payload: Any) -> ApplyResult:
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


def _changed_items(group: Any) -> set[str]:
    changes = group.get("changes") if isinstance(group, dict) else None
    return {str(dig(c, "item", "id")) for c in changes or [] if isinstance(c, dict)}


def _entry_index(error: Any) -> int | None:
    """userErrors name their entry as field ["input", "quantities", "<index>", ...]."""
    field = error.get("field") if isinstance(error, dict) else None
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None


def graphql_errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def error_code(error: Mapping[str, Any]) -> str | None:
    code = dig(error, "extensions", "code")
    return code if isinstance(code, str) else None


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


VARIANT_GID = "gid://shopify/ProductVariant/"


def observed_from_node(node: dict[str, Any]) -> Observed:
    """A ProductVariant node of nodes(ids) as our value; items Shopify will not let us enforce are problems."""
    variant = str(node["id"])
    item = node.get("inventoryItem")
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return Observed(variant, None)
    ref: dict[str, Any] = {"inventory_item_id": item["id"]}
    if isinstance(node.get("inventoryPolicy"), str):
        ref["inventory_policy"] = node["inventoryPolicy"]
    level = item.get("inventoryLevel")
    if item.get("tracked") is not True:
        return untracked(variant, ref)
    if not isinstance(level, dict):
        why = "not stocked at the store's location: Shopify refuses quantities for it there"
        return unenforceable(variant, why, ref)
    if ref.get("inventory_policy") == "CONTINUE":
        why = "inventory policy CONTINUE: Shopify keeps selling it at 0, so a count cannot stop sales"
        return unenforceable(variant, why, ref)
    quantity = next(
        (q.get("quantity") for q in level.get("quantities") or [] if q.get("name") == "available"), None
    )
    if isinstance(quantity, float) and whole_count(quantity) is None:
        return Observed(variant, None, None, ref, problem=out_of_range(quantity))
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        return Observed(variant, None, None, ref)
    return counted(variant, quantity > 0, quantity, ref)


def untracked(external_id: str, ref: Mapping[str, Any]) -> Observed:
    why = "inventory not tracked (tracked: false): Shopify ignores quantities, it sells without limit"
    return unenforceable(external_id, why, ref)


def is_variant(node: Any) -> bool:
    """nodes() answers null for unknown ids and {} for ids of other types: both are 'not found'."""
    return isinstance(node, dict) and str(node.get("id", "")).startswith(VARIANT_GID)
