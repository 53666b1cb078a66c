"""Big Cartel products (JSON:API documents) as our values, and the PATCH body (pure: no I/O).
See reconcilers/bigcartel.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daemon.model import ApplyResult, Change, ItemFailure, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted, unenforceable

OPTION_TYPE = "product_options"
# statuses under which the storefront offers the product at all; hidden / coming_soon withhold it
SELLING, SOLD_OUT = "active", "sold_out"


def numeric_id(text: str) -> bool:
    """A Big Cartel id as text: decimal digits that fit a bigint."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= 19


def parse_external_id(external_id: str) -> tuple[str, str] | None:
    """(product id, option id) from "<product id>:<option id>", None when malformed."""
    product, sep, option = external_id.partition(":")
    if not sep or not (numeric_id(product) and numeric_id(option)):
        return None
    return product, option


def product_unit(external_id: str) -> str:
    """The write unit: one PATCH /products/{id} carries the options of one product only."""
    return external_id.partition(":")[0]


class Product:
    """One product resource of a JSON:API answer, its options joined from `included` by type + id."""

    def __init__(self, resource: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        attributes = resource.get("attributes")
        self.id = str(resource.get("id"))
        self.status = attributes.get("status") if isinstance(attributes, Mapping) else None
        linkage = _path(resource, "relationships", "options", "data")
        self.option_ids = [
            str(o.get("id")) for o in linkage if isinstance(o, Mapping) and o.get("type") == OPTION_TYPE
        ]
        self.options = {i: options.get(i) for i in self.option_ids}

    def ref(self) -> dict[str, Any]:
        """What a later PATCH needs: the status read and every option of the product."""
        return {"status": self.status, "options": list(self.option_ids)}

    def observed(self, external_id: str, option_id: str) -> Observed:
        ref = self.ref()
        if self.status not in (SELLING, SOLD_OUT):
            reason = f"the product's status is {str(self.status)[:20]!r}: withheld from sale by the seller"
            return unenforceable(external_id, reason, ref)
        option = self.options.get(option_id)
        attributes = option.get("attributes") if isinstance(option, Mapping) else None
        if not isinstance(attributes, Mapping):
            return unenforceable(external_id, "Big Cartel answered no attributes for this option", ref)
        quantity = attributes.get("quantity")
        if quantity is None:  # no count kept: sells without one (sold_out still stops it)
            return counted(external_id, self.status == SELLING, None, ref, unlimited=self.status == SELLING)
        if isinstance(quantity, float) and whole_count(quantity) is None:
            return Observed(external_id, None, None, ref, problem=out_of_range(quantity))  # beyond int4
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return unenforceable(external_id, f"option quantity {str(quantity)[:40]!r} is not whole", ref)
        return counted(external_id, self.status == SELLING and quantity > 0, quantity, ref)

    def confirm(self, written: Mapping[str, tuple[str, int]]) -> ApplyResult:
        """{external id: (option id, quantity written)} checked against this (answered) product."""
        confirmed: list[Observed] = []
        failed: list[ItemFailure] = []
        for external_id, (option_id, quantity) in written.items():
            shown = self.observed(external_id, option_id) if option_id in self.options else None
            if shown is None or shown.problem is not None or shown.quantity != quantity:
                failed.append(ItemFailure(external_id, "Big Cartel answered another quantity than written"))
            else:
                confirmed.append(shown)
        return ApplyResult(tuple(confirmed), tuple(failed))


def products_of(document: Any) -> dict[str, Product]:
    """{product id: Product} from a JSON:API answer whose `data` is one product or a list of them."""
    if not isinstance(document, Mapping):
        return {}
    data = document.get("data")
    resources = data if isinstance(data, list) else [data]
    included = document.get("included")
    options = {
        str(o.get("id")): o
        for o in (included if isinstance(included, list) else [])
        if isinstance(o, Mapping) and o.get("type") == OPTION_TYPE
    }
    return {
        str(r["id"]): Product(r, options)
        for r in resources
        if isinstance(r, Mapping) and r.get("type") == "products" and r.get("id") is not None
    }


def quantity_for(change: Change, in_stock_quantity: int) -> int:
    """The absolute count to write: 0 when unsellable, the count in quantity mode, `in_stock_quantity`
    in status mode (desired values are never unlimited)."""
    target = change.target
    if not target.available:
        return 0
    return max(target.quantity, 0) if target.quantity is not None else in_stock_quantity


def patch_body(
    product_id: str, option_ids: Sequence[str], quantities: Mapping[str, int], revive: bool
) -> dict[str, Any]:
    """PATCH /products/{id}: every option of the product is listed (a JSON:API to-many relationship
    sent in a PATCH replaces the whole relationship, so an omitted option would be dropped); only the
    options we write carry a quantity. `revive`: a sold_out product is made active again."""
    listed: list[dict[str, Any]] = []
    for option_id in _unique([*option_ids, *quantities]):
        entry: dict[str, Any] = {"type": OPTION_TYPE, "id": option_id}
        if option_id in quantities:
            entry["attributes"] = {"quantity": quantities[option_id]}
        listed.append(entry)
    data: dict[str, Any] = {
        "type": "products",
        "id": product_id,
        "relationships": {"options": {"data": listed}},
    }
    if revive:
        data["attributes"] = {"status": SELLING}
    return {"data": data}


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _path(obj: Any, *keys: str) -> list[Any]:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj if isinstance(obj, list) else []
