"""Storenvy variants as our values (pure: no I/O): external ids, a variant's stock fields, the absolute
PUT body of a change, and the product ids an (unsigned) webhook body names. See reconcilers/storenvy.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted

Target = tuple[str, str]  # (product id, variant id), both as Storenvy writes them back
UNCOUNTED = "uncounted"  # platform_ref key: the variant sold without a count when observed
MAX_NAMED_PRODUCTS = 50  # a notification naming more is refused: an unsigned body buys bounded re-reads


def item_unit(external_id: str) -> str:
    """Every variant is its own write unit: one PUT names one variant."""
    return external_id


def product_of_item(external_id: str) -> str:
    """The product a variant belongs to (a webhook body can only be trusted to name a product)."""
    return external_id.partition(":")[0]


def storenvy_id(value: Any) -> str | None:
    """A numeric Storenvy id as text (ASCII digits, no leading zero), from text or a JSON integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        return None
    return None if value.startswith("0") or len(value) > 18 else value


def target_of(external_id: str) -> Target | None:
    """'12:34' → ('12', '34') (product id : variant id); anything else → None."""
    product, colon, variant = external_id.partition(":")
    product_id, variant_id = storenvy_id(product), storenvy_id(variant)
    if not colon or product_id is None or variant_id is None:
        return None
    return product_id, variant_id


def as_observed(external_id: str, variant: Any) -> Observed:
    """One variant object: `full_quantity` is its count, `in_stock` whether it sells (absent: the count
    decides). A variant with no count (`full_quantity` null) that is in stock sells without a count:
    unlimited."""
    if not isinstance(variant, Mapping):
        return Observed(external_id, None, None, problem="store value refused: not a Storenvy variant")
    in_stock = variant.get("in_stock")
    if in_stock is not None and not isinstance(in_stock, bool):
        return Observed(external_id, None, None, problem="store value refused: in_stock not true/false")
    quantity = variant.get("full_quantity")
    if quantity is None:
        if in_stock is None:  # neither a count nor a flag: nothing tells whether it sells
            return Observed(
                external_id, None, None, problem="store value refused: no full_quantity or in_stock"
            )
        if in_stock:
            return Observed(external_id, True, None, {UNCOUNTED: True}, unlimited=True)
        return Observed(external_id, False, None, {UNCOUNTED: True})
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return Observed(external_id, None, None, problem="store value refused: full_quantity not a number")
    count = whole_count(quantity)
    if count is None:
        return Observed(external_id, None, None, problem=out_of_range(quantity))
    # without the flag (not in every answer we may get), the count alone says whether it sells
    return counted(external_id, in_stock is not False and count > 0, count, {UNCOUNTED: False})


def put_body(change: Change, in_stock_quantity: int) -> dict[str, Any] | None:
    """The absolute update of one variant: the count and the flag always together, so a variant a
    merchant marked out of stock by hand sells again when we give it a count. None: nothing to write
    (status mode, available, and the store already sells it without a count)."""
    target = change.target
    if target.quantity is not None:  # quantity mode: the count we manage, 0 when unsellable
        quantity = max(target.quantity, 0) if target.available else 0
    elif not target.available:
        quantity = 0
    elif (change.platform_ref or {}).get(UNCOUNTED) is True:
        return None
    else:
        quantity = in_stock_quantity
    return {"full_quantity": quantity, "in_stock": quantity > 0}


@dataclass(frozen=True, slots=True)
class VariantPut:
    """The one request a change needs: the variant's path below the API root and the absolute body."""

    path: str
    body: dict[str, Any]


def planned(change: Change, in_stock_quantity: int) -> VariantPut | Observed | str:
    """What writing a change takes: a PUT, or what the store already shows when nothing needs writing
    (an uncounted variant that should sell), or why it cannot be written (a malformed external id)."""
    target = target_of(change.external_id)
    if target is None:
        return "external id must be '<productId>:<variantId>' (Storenvy numeric ids)"
    body = put_body(change, in_stock_quantity)
    if body is None:
        return Observed(change.external_id, True, None, {UNCOUNTED: True}, unlimited=True)
    product, variant = target
    return VariantPut(f"/products/{product}/variants/{variant}.json", body)


def written(change: Change, body: Mapping[str, Any], answer: Any) -> Observed:
    """What the store shows after an accepted PUT: the variant it answers, else what we sent."""
    if isinstance(answer, Mapping) and "full_quantity" in answer and "in_stock" in answer:
        return as_observed(change.external_id, answer)
    quantity = int(body["full_quantity"])
    return Observed(change.external_id, quantity > 0, quantity, {UNCOUNTED: False})


def named_products(event: Any) -> set[str]:
    """The product ids an event body names: `product_id` at its top or in its `data` object, the
    `product_id` of listed `variants`, or the `id` of a `data` object that lists `variants` (a product).
    Nothing else is read from the body: it is not signed. InputError names the bad field."""
    if not isinstance(event, Mapping):
        raise InputError("webhook", "body", "must be a JSON object")
    data = event.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise InputError("webhook", "data", "must be a JSON object when present")
    found: set[str] = set()
    for where, obj in (("", event), ("data.", data or {})):
        _add(found, obj.get("product_id"), f"{where}product_id")
        variants = obj.get("variants")
        if variants is None:
            continue
        if not isinstance(variants, list):
            raise InputError("webhook", f"{where}variants", "must be a list when present")
        if where:
            _add(found, obj.get("id"), "data.id")
        for index, variant in enumerate(variants):
            if isinstance(variant, Mapping):
                _add(found, variant.get("product_id"), f"{where}variants[{index}].product_id")
    if len(found) > MAX_NAMED_PRODUCTS:
        raise InputError("webhook", "body", f"names more than {MAX_NAMED_PRODUCTS} products")
    return found


def _add(found: set[str], value: Any, field: str) -> None:
    if value is None:
        return
    product = storenvy_id(value)
    if product is None:
        raise InputError("webhook", field, "not a Storenvy product id (digits)")
    found.add(product)
