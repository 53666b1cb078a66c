"""WooCommerce products and variations as our values (pure: no I/O): external ids, the stock fields
of an object, and the per-item outcome of a batch answer. See reconcilers/woocommerce.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from daemon.model import ApplyResult, Change, ItemFailure, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.batching import all_failed
from reconcilers.observations import counted

SELLABLE = {"instock": True, "onbackorder": True, "outofstock": False}
Target = tuple[int, int | None]  # (product id, variation id)
# platform_ref key: the count at which this shop derived "out of stock" (its no-stock threshold)
OUT_OF_STOCK_AT = "out_of_stock_at"


def parent_unit(external_id: str) -> str:
    """Variations are written per parent product (/products/<id>/variations/batch); simple
    products share /products/batch."""
    product, colon, _ = external_id.partition(":")
    return product if colon else ""


def threshold_problem(quantity: int) -> str:
    return (
        f"the shop derives out of stock at a count of {quantity} (its out-of-stock threshold, "
        "woocommerce_notify_no_stock_amount): lower the threshold or the count cannot be shown"
    )


def as_observed(obj: Mapping[str, Any], parent: int | None) -> Observed:
    """Normalise one product/variation object; `parent` set means it is a variation of that product."""
    external_id = f"{parent}:{obj['id']}" if parent is not None else str(obj.get("id"))
    manage = obj.get("manage_stock")
    ref: dict[str, Any] = {"manage_stock": manage}
    if isinstance(obj.get("backorders"), str):
        ref["backorders"] = obj["backorders"]  # yes/notify keep selling at 0: shown to support
    available = SELLABLE.get(str(obj.get("stock_status")))
    if available is None:
        return Observed(external_id, None, None, ref)
    quantity = obj.get("stock_quantity")
    managed = manage is True or manage == "parent"
    if managed and isinstance(quantity, float) and whole_count(quantity) is None:  # inf, 1e20, ...
        return Observed(external_id, None, None, ref, problem=out_of_range(quantity))
    if not managed or isinstance(quantity, bool) or not isinstance(quantity, int):
        quantity = None
    elif not available and quantity > 0:  # the shop's no-stock threshold derived "out of stock"
        ref[OUT_OF_STOCK_AT] = quantity
    # sellable with stock not managed: the store sells without a count (unlimited)
    return counted(external_id, available, quantity, ref, unlimited=available and not managed)


def mapped(chunk: Sequence[tuple[Change, dict[str, Any]]], parent: int | None, body: Any) -> ApplyResult:
    """Per-item outcome of a batch: each `update` entry is the saved object or {"id", "error"}."""
    answers = body.get("update") if isinstance(body, dict) else None
    if not isinstance(answers, list):
        return all_failed(
            (c for c, _ in chunk), "woocommerce: the batch answer has no update list", permanent=False
        )
    by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for change, entry in chunk:
        answer = by_id.get(entry["id"])
        if answer is None:
            failed.append(ItemFailure(change.external_id, "missing from the batch answer"))
        elif isinstance(answer.get("error"), dict):
            failed.append(item_error(change.external_id, answer["error"]))
        else:
            shown = as_observed(answer, parent)
            # every entry states the sellable state it means; managed stock may derive another one
            meant = (entry["stock_status"] == "instock", entry.get("stock_quantity", shown.quantity))
            if shown.quantity == meant[1] and meant[0] and not shown.available and meant[1]:
                failed.append(ItemFailure(change.external_id, threshold_problem(meant[1]), problem=True))
            elif (shown.available, shown.quantity) != meant:
                why = (
                    f"saved, but the store shows stock_status={answer.get('stock_status')!s:.20} "
                    f"stock_quantity={answer.get('stock_quantity')!s:.12} (derived from its stock settings)"
                )
                failed.append(ItemFailure(change.external_id, why))
            else:
                confirmed.append(replace(shown, external_id=change.external_id))
    return ApplyResult(confirmed=tuple(confirmed), failed=tuple(failed))


def item_error(external_id: str, error: Mapping[str, Any]) -> ItemFailure:
    data = error.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    code = str(error.get("code") or "error")[:80]
    message = str(error.get("message") or "")[:160]
    # a 4xx (invalid id, invalid value) repeats identically; anything else may pass later
    permanent = isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429)
    return ItemFailure(external_id, f"{code}: {message}", permanent=permanent)


def target_of(external_id: str) -> Target | None:
    """'12' → (12, None); '12:34' → (12, 34); anything else (also '012', '²') → None."""
    product, colon, variation = external_id.partition(":")
    product_id = woo_id(product)
    if product_id is None or not colon:
        return None if product_id is None else (product_id, None)
    variation_id = woo_id(variation)
    return None if variation_id is None else (product_id, variation_id)


def woo_id(text: str) -> int | None:
    """A WooCommerce id written the way the store writes it back; str.isdigit alone also accepts
    '²' (int() then raises) and '٣' or '012' (which would come back as a different external id)."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0"):
        return None
    return int(text)
